"""Placeholder (being written)."""

from fastapi import APIRouter

router = APIRouter()


class PreviewHostMiddleware:
    """Placeholder: passes everything through."""

    def __init__(self, app, settings, database) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)
