"""Waiting for changes: a waiter cancelled just as its change arrives stops (on Python 3.11
`asyncio.wait_for` returns instead, and an engine loop waiting that way never ends: the
reconciler once hung a test run, and would hang a server's shutdown)."""

from __future__ import annotations

import asyncio

import pytest

from backend import changes


async def test_a_wait_cancelled_as_the_change_arrives_is_cancelled():
    event = changes.Changes()
    waiter = asyncio.create_task(event.wait_at_most(60))
    await asyncio.sleep(0)  # it waits
    event.add(("a",))
    waiter.cancel()  # in the same turn of the loop as the change
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_wait_says_whether_a_change_came():
    event = changes.Changes()
    assert await event.wait_at_most(0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.add, ("b",))
    assert await event.wait_at_most(5) is True
    assert event.take() == {"b"}


async def test_an_engine_loop_stops_when_cancelled_as_a_change_arrives(settings, database):
    """The reconciler's loop, cancelled in the turn a sandbox change wakes it."""
    from backend.engines.reconciler import Reconciler
    from backend.runtime import create_runtime

    class Leader:
        async def acquire(self) -> bool:
            return True

        async def release(self) -> None:
            pass

    runtime = create_runtime(settings)
    try:
        engine = asyncio.create_task(Reconciler(database, runtime).run(60.0, Leader()))
        await asyncio.sleep(0.2)  # its first pass is done: it waits for changes
        changes.notify("sandboxes", "x")
        await asyncio.sleep(0)  # the notification is delivered (call_soon_threadsafe)
        engine.cancel()
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await engine
    finally:
        await runtime.close()
