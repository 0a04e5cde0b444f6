"""The JSON API: a FastAPI app built fresh per call, with the console mounted behind it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp


def create_api(console: ASGIApp | None = None) -> FastAPI:
    """Build the API. Used as Reflex's api_transformer: `console` is Reflex's own ASGI app,
    mounted last so that API routes match first."""
    api = FastAPI(title="mbox API", docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if console is not None:
        api.mount("", console)
    return api
