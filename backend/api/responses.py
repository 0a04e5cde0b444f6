"""JSON responses in the contract's shapes: one resource, or `{"items": [...]}`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from fastapi.responses import JSONResponse

from backend.schemas import PublicModel


class Public(Protocol):
    @classmethod
    def from_row(cls, row: Any) -> Any: ...


def item(model: type[Public], row: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.from_row(row).to_json(), status_code=status_code)


def items(model: type[Public], rows: Iterable[Any]) -> JSONResponse:
    return JSONResponse({"items": [model.from_row(row).to_json() for row in rows]})


def public(found: PublicModel | list[PublicModel], status_code: int = 200) -> JSONResponse:
    """Public models a service already built: one, or a list as `{"items": [...]}`."""
    if isinstance(found, list):
        return JSONResponse({"items": [one.to_json() for one in found]})
    return JSONResponse(found.to_json(), status_code=status_code)
