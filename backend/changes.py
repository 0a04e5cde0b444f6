"""In-process change notifications: services say "something changed", engines wake up.

Services run in worker threads; engines wait on the event loop. `notify()` is safe from
any thread and cheap when nobody listens. (Across replicas, Postgres LISTEN/NOTIFY will
feed the same waiters.)
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []


def notify() -> None:
    with _lock:
        waiters = list(_waiters)
    for loop, event in waiters:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def subscribe() -> asyncio.Event:
    """An event set on every change; the caller clears it after waking."""
    event = asyncio.Event()
    with _lock:
        _waiters.append((asyncio.get_running_loop(), event))
    return event


def unsubscribe(event: asyncio.Event) -> None:
    with _lock:
        _waiters[:] = [(loop, e) for loop, e in _waiters if e is not event]
