"""Long-poll waits: a read (or a create) that answers once what it returns has changed
enough, so clients do not poll.

`?wait=<seconds>` (0..60) holds the response until the thing reaches the state asked for
(a task: finished) or the seconds pass; `?after=<updatedAt>` says "newer than what I have"
(a sandbox). The waiter subscribes to the change topics (backend/changes.py) before it
reads, so a change between the read and the wait is not missed, and it re-reads only when
a change names its thing (or names nothing). No sleeps, no polling interval: a task that
ends answers the waiting request as soon as the runner records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from backend import changes
from backend.errors import InvalidInput

MAX_WAIT_SECONDS = 60
WAIT_REFUSED = f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}"
AFTER_REFUSED = "after must be an RFC3339 timestamp"
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")

RowT = TypeVar("RowT")


def wait_seconds(
    wait: Annotated[
        str | None,
        Query(
            description=(
                f"Hold the response up to this many seconds (0..{MAX_WAIT_SECONDS}, "
                "decimals allowed) for a change; absent: answer at once"
            ),
            json_schema_extra={"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
        ),
    ] = None,
) -> float | None:
    """The `wait` query: None when absent, else seconds in 0..MAX_WAIT_SECONDS (400 else)."""
    if wait is None:
        return None
    text = wait.strip()
    if not _NUMBER.match(text):
        raise InvalidInput(WAIT_REFUSED)
    seconds = float(text)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise InvalidInput(WAIT_REFUSED)
    return seconds


def after_time(
    after: Annotated[
        str | None,
        Query(
            description=(
                "An `updatedAt` from an earlier response (RFC 3339): with `wait`, answer "
                "once the resource is newer than this"
            ),
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
) -> datetime | None:
    """The `after` query: None when absent, else a UTC time (400 when not RFC 3339)."""
    if after is None or not after.strip():
        return None
    text = after.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(AFTER_REFUSED) from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise InvalidInput(AFTER_REFUSED)
    return parsed.astimezone(UTC)


WaitSeconds = Annotated[float | None, Depends(wait_seconds)]
AfterTime = Annotated[datetime | None, Depends(after_time)]


@contextlib.contextmanager
def watching(*topics: str) -> Iterator[changes.Changes]:
    """Changes of `topics` from now on (enter it before the first read)."""
    wakeup = changes.subscribe(*topics)
    try:
        yield wakeup
    finally:
        changes.unsubscribe(wakeup)


async def until(
    wakeup: changes.Changes,
    row: RowT,
    *,
    seconds: float | None,
    key: str,
    done: Callable[[RowT], bool],
    load: Callable[[], Awaitable[RowT]],
) -> RowT:
    """`row`, re-read with `load()` whenever a change names `key` (or names nothing), until
    `done(row)` or `seconds` have passed (None: no wait at all); the last row read."""
    if seconds is None:
        return row
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done(row):
        remaining = deadline - loop.time()
        if remaining <= 0 or not await wakeup.wait_at_most(remaining):
            break
        keys = wakeup.take()
        if keys is None or key in keys:
            row = await load()
    return row
