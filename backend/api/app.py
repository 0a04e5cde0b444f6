"""The JSON API: a FastAPI app built fresh per call, with the console mounted behind it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp

from backend.api import (
    artifacts,
    audit,
    boundary,
    code,
    console_auth,
    credentials,
    files,
    metrics,
    policy,
    previews,
    projects,
    runtime,
    sandboxes,
    sessions,
    system,
    tasks,
    templates,
    terminal,
    tokens,
)
from backend.api.idempotency import IdempotencyMiddleware
from backend.api.middleware import ApiRequestMiddleware, SignIns, WebGuardMiddleware
from backend.e2b.edge import E2BEdge
from backend.errors import PolicyDenied, RangeNotSatisfiable, ServiceError
from backend.services import Services
from backend.validation import describe_errors

log = logging.getLogger("mbox.api")
ROUTERS = (
    system,
    runtime,
    audit,
    projects,
    policy,
    credentials,
    templates,
    sandboxes,
    boundary,
    metrics,
    files,
    tasks,
    artifacts,
    sessions,
    terminal,
    code,
    previews,
    tokens,
)


def create_api(console: ASGIApp | None = None, *, services: Services) -> FastAPI:
    """Build the API over `services` (the process's, or a test's own: whoever built them
    closes them). As Reflex's api_transformer it receives Reflex's ASGI app (`console`),
    mounted last so API routes match first."""
    settings = services.settings
    api = FastAPI(title="mbox API", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.services = services
    # Per app, at the HTTP edge: the preview relay, the sign-in revocation cache and the
    # sign-in rate limit.
    api.state.previews = previews.Previews.of(services)
    api.state.sign_ins = SignIns(settings, services.database)
    api.state.sign_in_limiter = console_auth.SignInLimiter()
    for router in ROUTERS:
        api.include_router(router.router)
    api.include_router(console_auth.router)
    api.add_api_route(
        "/v1/{path:path}", _unknown_route, methods=_ALL_METHODS, include_in_schema=False
    )
    _install_error_handlers(api)
    # Inside the authentication: Idempotency-Key keys are per principal.
    api.add_middleware(IdempotencyMiddleware, database=services.database, settings=settings)
    api.add_middleware(ApiRequestMiddleware, settings=settings, sign_ins=api.state.sign_ins)
    # E2B's SDKs: their control plane and each sandbox's envd, on this origin too.
    api.add_middleware(E2BEdge, services=services)
    # Requests for a preview origin never reach the API or the console.
    api.add_middleware(previews.PreviewHostMiddleware, settings=settings)
    # Outermost: Host names, foreign origins and CORS (mbox_app wraps Reflex in it too).
    api.add_middleware(WebGuardMiddleware, settings=settings)
    if console is not None:
        api.mount("", console)
    return api


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _unknown_route(request: Request) -> JSONResponse:
    """Unknown /v1 paths are 404, known paths with another method 405 (with Allow)."""
    allowed: set[str] = set()
    for router in ROUTERS:
        for route in router.router.routes:
            match, _ = route.matches({**request.scope, "method": "__none__"})
            if match is Match.PARTIAL and isinstance(route, Route):
                allowed |= route.methods or set()
    if allowed:
        return JSONResponse(
            {"error": f"method {request.method} is not allowed here"},
            status_code=405,
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    return JSONResponse({"error": "route not found"}, status_code=404)


def _error(
    status_code: int, message: str, detail: dict | None = None, headers: dict | None = None
) -> JSONResponse:
    content: dict = {"error": message}
    if detail:
        content["detail"] = detail
    return JSONResponse(content, status_code=status_code, headers=headers)


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = None
        if isinstance(exc, RangeNotSatisfiable):
            headers = {"Content-Range": f"bytes */{exc.size}"}
        if isinstance(exc, PolicyDenied):  # the rules that denied, top level
            return JSONResponse({"error": exc.message, "denial": exc.denial}, status_code=403)
        return _error(exc.status_code, exc.message, exc.detail, headers)

    @api.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's locations start with where the value came from (body, query, path).
        errors = [{**error, "loc": tuple(error.get("loc", ()))[1:]} for error in exc.errors()]
        message, field = describe_errors(errors)
        return _error(400, message, {"field": field} if field else None)

    @api.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal server error")
