"""In-process change notifications: services say "something changed", engines and streams
wake up instead of polling.

Topics: "sandboxes" (a request changed a sandbox; the reconciler listens), "sandbox-status"
(the runtime moved a sandbox; console pages listen, with "sandboxes"), "tasks" (a task
changed: event streams, a running task's cancel check), "task-queue" (a task was queued:
the task runner), "task-ended" (a task reached its end: waits), "output" (task event
streams). Services run in worker threads and engines on the event loop: `notify()` is
safe from any thread and cheap when nobody listens.
(Across replicas, Postgres LISTEN/NOTIFY will feed the same waiters.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

_lock = threading.Lock()
_waiters: list[tuple[str, asyncio.AbstractEventLoop, Changes]] = []


class Changes(asyncio.Event):
    """Set on every change of its topics; it also gathers what changed (the keys given to
    `notify`, e.g. sandbox ids) until cleared: None once a change named nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] | None = set()

    def add(self, keys: tuple[str, ...]) -> None:
        if not keys:
            self.keys = None
        elif self.keys is not None:
            self.keys.update(keys)
        self.set()

    def clear(self) -> None:
        super().clear()
        self.keys = set()

    async def wait_at_most(self, seconds: float) -> bool:
        """Wait until set, or `seconds`; whether it was set. (Not `asyncio.wait_for`: on
        Python 3.11 it swallows a cancellation that comes as the event is set, and the
        loop waiting here would never stop.)"""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await self.wait()
        return self.is_set()

    def take(self) -> set[str] | None:
        """What changed since the last clear (None: anything may have), and clear."""
        keys = self.keys
        self.clear()
        return keys


def notify(topic: str, *keys: str) -> None:
    """Say that `topic` changed; `keys` name what (listeners that act on one thing at a
    time do only that); none means anything may have changed. One wake-up per event loop
    however many listen there (from another thread each costs a write to the loop)."""
    with _lock:
        listening = [(loop, event) for name, loop, event in _waiters if name == topic]
    if not listening:
        return
    by_loop: dict[asyncio.AbstractEventLoop, list[Changes]] = {}
    for loop, event in listening:
        by_loop.setdefault(loop, []).append(event)
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    for loop, events in by_loop.items():
        if loop is here:
            _add_all(events, keys)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(_add_all, events, keys)


def _add_all(events: list[Changes], keys: tuple[str, ...]) -> None:
    for event in events:
        event.add(keys)


def subscribe(*topics: str) -> Changes:
    """An event set on every change of these topics; the caller clears it after waking."""
    event = Changes()
    loop = asyncio.get_running_loop()
    with _lock:
        _waiters.extend((topic, loop, event) for topic in topics)
    return event


def unsubscribe(event: asyncio.Event) -> None:
    with _lock:
        _waiters[:] = [waiter for waiter in _waiters if waiter[2] is not event]
