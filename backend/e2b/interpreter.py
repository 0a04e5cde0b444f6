"""E2B's code interpreter (port 49999): placeholder until the kernel service lands."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from backend.services import Services


def interpreter_app(services: Services) -> ASGIApp:
    return JSONResponse({"code": 502, "message": "port 49999 is not open"}, status_code=502)
