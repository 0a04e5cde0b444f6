"""The kernel hub against what a sandbox may do: an image without Jupyter is told in
words, a driver's output is bounded, callers are checked before anything runs. (Real
kernels run in tests/e2b/test_e2b_code_interpreter.py, on the built-in template.)"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlmodel import select

from backend.audit.models import AuditEventRow
from backend.auth.models import SYSTEM, Principal
from backend.errors import Forbidden, InvalidInput, NotFound, RuntimeFailed
from backend.sessions.kernels import MAX_LINE, MAX_QUEUED_BYTES, KernelDriver, KernelHub


@pytest.fixture
async def hub(world, database):
    hub = KernelHub(database, world.runtime)
    yield hub
    await hub.close()


async def run_all(hub: KernelHub, principal: Principal, sandbox_id: uuid.UUID, code: str, **kw):
    return [event async for event in hub.execute(principal, sandbox_id, code, **kw)]


async def test_an_image_without_jupyter_is_told_in_words(hub, world, database) -> None:
    """... and the attempt is audited, with the code's start."""
    sandbox_id = uuid.UUID((await world.running_sandbox())["id"])  # the host's python3 only
    code = "1 + 1  # " + "x" * 1000
    with pytest.raises(RuntimeFailed, match=r"cannot run code.*code-interpreter template"):
        await asyncio.wait_for(run_all(hub, SYSTEM, sandbox_id, code), 60)
    with database.session() as db:
        events = db.exec(
            select(AuditEventRow).where(AuditEventRow.action == "sandbox.code_executed")
        ).all()
    assert [(event.resource_id, event.meta["code"]) for event in events] == [
        (sandbox_id, code[:500])
    ]


async def test_callers_and_input_are_checked_before_anything_runs(hub, world) -> None:
    sandbox = await world.running_sandbox()
    sandbox_id = uuid.UUID(sandbox["id"])
    viewer = Principal(
        subject="k-viewer", role="viewer", projects=frozenset({uuid.UUID(sandbox["projectId"])})
    )
    outsider = Principal(subject="k-outsider", role="admin", projects=frozenset())
    with pytest.raises(Forbidden):
        await run_all(hub, viewer, sandbox_id, "1")
    with pytest.raises(NotFound):
        await run_all(hub, outsider, sandbox_id, "1")
    with pytest.raises(NotFound):
        await hub.contexts(outsider, sandbox_id)
    with pytest.raises(InvalidInput, match="only python"):
        await run_all(hub, SYSTEM, sandbox_id, "1", language="r")
    with pytest.raises(InvalidInput, match="only python"):
        await hub.create_context(SYSTEM, sandbox_id, "javascript")
    with pytest.raises(InvalidInput, match="env_vars"):
        await run_all(hub, SYSTEM, sandbox_id, "1", env_vars={"A=B": "x"})
    with pytest.raises(InvalidInput, match="env_vars"):
        await run_all(hub, SYSTEM, sandbox_id, "1", env_vars={"A": 1})
    with pytest.raises(InvalidInput, match="code"):
        await run_all(hub, SYSTEM, sandbox_id, None)
    assert hub._drivers == {}  # nothing started for any of them


async def test_a_driver_line_over_the_bound_ends_the_driver(world) -> None:
    """A sandbox that answers with an endless line is cut off at the bound and killed,
    and whoever waits is told."""
    sandbox_id = uuid.UUID((await world.running_sandbox())["id"])
    flood = f"head -c {MAX_LINE + 1024 * 1024} /dev/zero | tr '\\0' x; exec sleep 600"
    process = await world.runtime.exec(sandbox_id, ["sh", "-c", flood], stdin=True)
    driver = KernelDriver(process)
    await asyncio.wait_for(driver.run(), 60)
    assert driver.gone is not None and "over" in driver.gone
    with pytest.raises(RuntimeFailed):
        await driver.ready
    with pytest.raises(RuntimeFailed):
        await driver.call("list")


async def test_replies_a_caller_does_not_take_are_bounded(world) -> None:
    """A driver that answers one request without end, to a caller that stopped reading,
    is held back once the queued replies reach their bound; the caller's going away
    releases them."""
    sandbox_id = uuid.UUID((await world.running_sandbox())["id"])
    event = '{"id": "1", "event": {"type": "stdout", "text": "%s"}}' % ("x" * 100_000)
    flood = f"""printf '{{"id": null, "done": {{}}}}\\n'; read line; exec yes '{event}'"""
    process = await world.runtime.exec(sandbox_id, ["sh", "-c", flood], stdin=True)
    driver = KernelDriver(process)
    running = asyncio.ensure_future(driver.run())
    try:
        await asyncio.wait_for(driver.ready, 30)
        replies = driver.request("execute")
        assert (await anext(replies))["type"] == "stdout"
        await asyncio.sleep(1.5)
        held = driver._queued
        await asyncio.sleep(0.5)
        assert MAX_QUEUED_BYTES - 200_000 < held <= MAX_QUEUED_BYTES
        assert driver._queued == held  # nothing more was read
        await replies.aclose()
        assert driver._queued == 0
    finally:
        driver.kill()
        await asyncio.wait_for(running, 30)
