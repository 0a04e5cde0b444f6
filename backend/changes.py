"""In-process change notifications: services say "something changed", engines and streams
wake up instead of polling.

Topics: "sandboxes" (a request changed a sandbox; the reconciler listens), "sandbox-status"
(the runtime moved a sandbox; console pages listen, with "sandboxes"), "tasks" (the task
runner and task event streams), "output" (task event streams). Services run in worker
threads and engines on the event loop: `notify()` is safe from any thread and cheap when
nobody listens.
(Across replicas, Postgres LISTEN/NOTIFY will feed the same waiters.)
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_waiters: list[tuple[str, asyncio.AbstractEventLoop, asyncio.Event]] = []


def notify(topic: str) -> None:
    with _lock:
        waiters = [(loop, event) for name, loop, event in _waiters if name == topic]
    for loop, event in waiters:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def subscribe(*topics: str) -> asyncio.Event:
    """An event set on every change of these topics; the caller clears it after waking."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    with _lock:
        _waiters.extend((topic, loop, event) for topic in topics)
    return event


def unsubscribe(event: asyncio.Event) -> None:
    with _lock:
        _waiters[:] = [waiter for waiter in _waiters if waiter[2] is not event]
