"""Long-poll waits with a real runtime and the task runner's own loop: `?wait=` on a task
answers as soon as it finishes (no polling interval: the runner's loop would only look again
after a minute), or with the task as it is when the seconds pass; `?after=&wait=` on a
sandbox answers on its next change."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

FINISHED = ("succeeded", "failed", "canceled", "timed_out")


@pytest.fixture
async def sandbox(world):
    return await world.running_sandbox()


@pytest.fixture
async def runner(world) -> AsyncIterator[None]:
    """The task runner's loop, as the server runs it, woken only by change notifications
    (its own interval is a minute)."""
    loop = asyncio.create_task(world.runner.run(60))
    yield
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def create(world, sandbox: dict, command: list[str], **params) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = await world.client.post(
        f"/v1/sandboxes/{sandbox['id']}/tasks", json={"command": command}, params=params
    )
    return response.status_code, response.json(), time.monotonic() - started


async def test_create_and_wait_answers_with_the_finished_task(world, sandbox, runner):
    status, task, elapsed = await create(world, sandbox, ["true"], wait="10")
    assert status == 201, task
    assert (task["status"], task["exitCode"]) == ("succeeded", 0)
    assert "finishedAt" in task and elapsed < 5
    status, task, _ = await create(world, sandbox, ["sh", "-c", "exit 3"], wait="10")
    assert status == 201
    assert (task["status"], task["exitCode"], task["error"]) == ("failed", 3, "exited with code 3")


async def test_a_repeated_idempotency_key_waits_too(world, sandbox, runner):
    fields = {"command": ["sh", "-c", "sleep 0.3; echo hi"], "idempotencyKey": "once"}
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    first = await world.client.post(path, json=fields)
    assert first.status_code == 201 and first.json()["status"] in ("queued", "running")
    again = await world.client.post(path, json=fields, params={"wait": "10"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert (again.json()["status"], again.json()["stdout"]) == ("succeeded", "hi\n")


async def test_get_with_wait_returns_when_the_task_finishes(world, sandbox, runner):
    _, task, _ = await create(world, sandbox, ["sleep", "0.5"])
    started = time.monotonic()
    response = await world.client.get(f"/v1/tasks/{task['id']}", params={"wait": "30"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert elapsed < 10
    # Finished already: at once.
    started = time.monotonic()
    again = await world.client.get(f"/v1/tasks/{task['id']}", params={"wait": "30"})
    assert again.json()["status"] == "succeeded" and time.monotonic() - started < 2


async def test_a_wait_that_expires_returns_the_running_task(world, sandbox, runner):
    _, task, _ = await create(world, sandbox, ["sleep", "30"])
    started = time.monotonic()
    response = await world.client.get(f"/v1/tasks/{task['id']}", params={"wait": "0.6"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status"] in ("queued", "running")
    assert 0.5 <= elapsed < 5
    status, created, elapsed = await create(world, sandbox, ["sleep", "30"], wait="0.4")
    assert status == 201 and created["status"] not in FINISHED and 0.3 <= elapsed < 5
    for one in (task, created):
        assert (await world.client.post(f"/v1/tasks/{one['id']}/cancel")).status_code == 200
    canceled = await world.client.get(f"/v1/tasks/{task['id']}", params={"wait": "20"})
    assert canceled.json()["status"] == "canceled"


async def test_a_cancel_ends_a_wait(world, sandbox, runner):
    _, task, _ = await create(world, sandbox, ["sleep", "30"])
    waiting = asyncio.create_task(
        world.client.get(f"/v1/tasks/{task['id']}", params={"wait": "30"})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    assert (await world.client.post(f"/v1/tasks/{task['id']}/cancel")).status_code == 200
    response = await asyncio.wait_for(waiting, 15)
    assert response.json()["status"] == "canceled"


async def test_sandbox_get_after_returns_on_the_next_change(world, sandbox):
    path = f"/v1/sandboxes/{sandbox['id']}"
    seen = sandbox["updatedAt"]
    # Nothing newer: the wait runs out and the sandbox comes back as it was.
    started = time.monotonic()
    same = await world.client.get(path, params={"wait": "0.5", "after": seen})
    assert same.status_code == 200 and same.json()["updatedAt"] == seen
    assert 0.4 <= time.monotonic() - started < 5
    # Without `after`, `wait` is ignored.
    started = time.monotonic()
    assert (await world.client.get(path, params={"wait": "30"})).status_code == 200
    assert time.monotonic() - started < 2
    # A change (a stop, then the runtime's report) ends the wait.
    started = time.monotonic()
    waiting = asyncio.create_task(world.client.get(path, params={"wait": "30", "after": seen}))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await world.post(f"{path}/stop")
    response = await asyncio.wait_for(waiting, 15)
    assert response.status_code == 200 and time.monotonic() - started < 10
    changed = response.json()
    assert changed["updatedAt"] > seen and changed["status"] == "stopped"
    # An `after` older than the sandbox's updatedAt: at once.
    started = time.monotonic()
    old = await world.client.get(path, params={"wait": "30", "after": seen})
    assert old.json()["updatedAt"] == changed["updatedAt"] and time.monotonic() - started < 2


async def test_a_runtime_status_change_ends_a_sandbox_wait(world):
    sandbox = await world.launch()
    path = f"/v1/sandboxes/{sandbox['id']}"
    assert sandbox["status"] == "pending"
    waiting = asyncio.create_task(
        world.client.get(path, params={"wait": "30", "after": sandbox["updatedAt"]})
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await world.reconciler.reconcile_once()  # the runtime reports the sandbox's new phase
    response = await asyncio.wait_for(waiting, 30)
    assert response.json()["updatedAt"] > sandbox["updatedAt"]


async def test_an_idempotency_key_replays_the_finished_task(world, sandbox, runner):
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    headers = {"Idempotency-Key": "run-true-once"}
    first = await world.client.post(
        path, json={"command": ["true"]}, params={"wait": "10"}, headers=headers
    )
    assert first.status_code == 201 and first.json()["status"] == "succeeded"
    again = await world.client.post(
        path, json={"command": ["true"]}, params={"wait": "10"}, headers=headers
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.json()) == (201, first.json())
    listed = (await world.client.get(path)).json()["items"]
    assert [task["id"] for task in listed] == [first.json()["id"]]
