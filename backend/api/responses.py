"""JSON responses in the contract's shapes: one resource, or `{"items": [...]}`; the page
limit every list route takes; and the headers of user content served as a download."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from backend.errors import InvalidInput
from backend.schemas import PublicModel

# A list answers at most MAX_PAGE items (DEFAULT_PAGE unless `limit` says otherwise): one
# request can never make the server serialise a whole table.
DEFAULT_PAGE = 100
MAX_PAGE = 500
# Set on a list cut at its limit (more items exist).
TRUNCATED_HEADER = "X-Mbox-List-Truncated"
# User content is downloaded, never rendered on the API's origin.
SAFE_DOWNLOAD = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Public(Protocol):
    @classmethod
    def from_row(cls, row: Any) -> Any: ...


def page_limit(
    limit: Annotated[
        str | None,
        Query(description=f"At most this many items (1..{MAX_PAGE}, default {DEFAULT_PAGE})"),
    ] = None,
) -> int:
    """The `limit` query of a list route: 400 outside 1..MAX_PAGE."""
    if limit is None or limit == "":
        return DEFAULT_PAGE
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    return int(limit)


PageLimit = Annotated[int, Depends(page_limit)]


def item(model: type[Public], row: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.from_row(row).to_json(), status_code=status_code)


def items(model: type[Public], rows: Iterable[Any], limit: int | None = None) -> JSONResponse:
    """`rows` as `{"items": [...]}`; with `limit`, services were asked for one row more, so
    a cut list says so (TRUNCATED_HEADER)."""
    return _page([model.from_row(row).to_json() for row in rows], limit)


def public(found: PublicModel | list[PublicModel], status_code: int = 200) -> JSONResponse:
    """Public models a service already built: one, or a list as `{"items": [...]}`."""
    if isinstance(found, list):
        return JSONResponse({"items": [one.to_json() for one in found]})
    return JSONResponse(found.to_json(), status_code=status_code)


def page(
    found: Sequence[PublicModel | dict],
    limit: int,
    *,
    newest_last: bool = False,
    **fields: Any,
) -> JSONResponse:
    """Built models (or JSON objects), at most `limit` of them, as `{"items": [...]}` (after
    `fields`, if any); a list in time order (`newest_last`) keeps its end."""
    documents = [one if isinstance(one, dict) else one.to_json() for one in found]
    return _page(documents, limit, newest_last, fields)


def _page(
    documents: list[Any],
    limit: int | None,
    newest_last: bool = False,
    fields: dict[str, Any] | None = None,
) -> JSONResponse:
    if limit is None or len(documents) <= limit:
        return JSONResponse({**(fields or {}), "items": documents})
    kept = documents[-limit:] if newest_last else documents[:limit]
    return JSONResponse({**(fields or {}), "items": kept}, headers={TRUNCATED_HEADER: "true"})


def download_headers(name: str) -> dict[str, str]:
    """Headers for user content served from the API origin: always a download named
    `name` (control characters replaced), never sniffed, never rendered."""
    return {
        "Content-Disposition": attachment(_CONTROL.sub("_", name) or "download"),
        **SAFE_DOWNLOAD,
    }


def attachment(name: str) -> str:
    """A Content-Disposition that always downloads (user content is never rendered on the
    API origin) and keeps non-ASCII names (RFC 6266 filename*)."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    quoted = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def iso_time(moment: datetime) -> str:
    """A UTC time as the contract writes it (`2026-01-02T03:04:05.123456Z`)."""
    return moment.isoformat().replace("+00:00", "Z")
