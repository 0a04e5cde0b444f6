"""envd's plain HTTP /files (placeholder until the filesystem service lands)."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from backend.services import Services


def files_app(services: Services) -> ASGIApp:
    return JSONResponse({"code": 501, "message": "not implemented yet"}, status_code=501)
