"""Execution tasks in real sandboxes: outcomes, output, streaming and resume, cancel,
timeouts, limits, idempotency, and recovery after a server restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from backend.engines.task_runner import HEAD_BYTES, TaskRunner
from backend.tasks import service as tasks
from backend.tasks.output import task_output_store

pytestmark = pytest.mark.both_runtimes


@pytest.fixture
async def sandbox(world):
    return await world.running_sandbox()


async def test_success_with_separate_streams(world, sandbox):
    task = await world.start_task(
        sandbox,
        ["sh", "-c", "echo out; echo err >&2; echo $X; pwd"],
        env={"X": "from-env"},
        cwd="/tmp",
    )
    assert task["status"] == "queued" and task["timeoutSeconds"] == 60
    done = await world.finished(task)
    assert (done["status"], done["exitCode"]) == ("succeeded", 0)
    assert done["stdout"] == "out\nfrom-env\n/tmp\n" and done["stderr"] == "err\n"
    assert done["outputTruncated"] is False and "error" not in done
    assert done["startedAt"] <= done["finishedAt"]


async def test_failure_reports_the_exit_code(world, sandbox):
    done = await world.finished(await world.start_task(sandbox, ["sh", "-c", "exit 4"]))
    assert (done["status"], done["exitCode"], done["error"]) == ("failed", 4, "exited with code 4")


async def test_missing_program_fails_with_a_reason(world, sandbox):
    done = await world.finished(await world.start_task(sandbox, ["no-such-program"]))
    assert done["status"] == "failed" and done["exitCode"] == 127


async def test_timeout_stops_the_task(world, sandbox):
    started = time.monotonic()
    task = await world.start_task(sandbox, ["sleep", "30"], timeoutSeconds=1)
    done = await world.finished(task)
    assert (done["status"], done["error"]) == ("timed_out", "task timed out")
    assert time.monotonic() - started < 4


async def test_cancel_escalates_past_an_ignored_sigint(world, sandbox):
    script = "trap 'echo got-int' INT; echo ready; while true; do sleep 0.1; done"
    task = await world.start_task(sandbox, ["sh", "-c", script])
    while "ready" not in (await world.client.get(f"/v1/tasks/{task['id']}/output")).text:
        await asyncio.sleep(0.05)
    canceled = await world.post(f"/v1/tasks/{task['id']}/cancel")
    assert "cancelRequestedAt" in canceled
    done = await world.finished(task)
    assert (done["status"], done["error"]) == ("canceled", "task canceled")
    assert "got-int" in done["stdout"]  # SIGINT came first, then SIGTERM ended it
    again = await world.client.post(f"/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409 and again.json() == {"error": "task is already finished"}


async def test_large_output_is_truncated_on_the_task_but_kept_whole(world, sandbox):
    size = 3 * HEAD_BYTES
    task = await world.start_task(
        sandbox, ["python3", "-c", f"import sys; sys.stdout.write('x' * {size})"]
    )
    done = await world.finished(task)
    assert done["outputTruncated"] is True
    assert len(done["stdout"]) == HEAD_BYTES and done["stdoutBytes"] == size
    full = await world.client.get(f"/v1/tasks/{task['id']}/output", params={"stream": "stdout"})
    assert full.content == b"x" * size
    tail = await world.client.get(f"/v1/tasks/{task['id']}/output", params={"offset": size - 10})
    assert tail.content == b"x" * 10


def _events(body: str) -> list[dict]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


async def test_event_stream_and_resume_from_an_offset(world, sandbox):
    script = "for i in 1 2 3; do echo line-$i; sleep 0.2; done; echo oops >&2"
    task = await world.start_task(sandbox, ["sh", "-c", script])
    response = await world.client.get(f"/v1/tasks/{task['id']}/events")
    assert response.headers["content-type"].startswith("application/x-ndjson")
    events = _events(response.text)
    assert events[0]["type"] == "snapshot" and events[-1]["type"] == "done"
    assert events[-1]["task"]["status"] == "succeeded"
    stdout = "".join(e["data"] for e in events if e["type"] == "output" and e["stream"] == "stdout")
    assert stdout == "line-1\nline-2\nline-3\n"
    offsets = [e.get("offset", 0) for e in events if e.get("stream") == "stdout"]
    assert offsets == sorted(offsets) and offsets[0] == 0

    resumed = await world.client.get(
        f"/v1/tasks/{task['id']}/events", params={"stdoutOffset": 7, "stderrOffset": 5}
    )
    again = _events(resumed.text)
    assert "".join(e["data"] for e in again if e.get("stream") == "stdout") == "line-2\nline-3\n"
    assert [e for e in again if e.get("stream") == "stderr"] == []
    assert again[1].get("offset") == 7


async def test_validation_and_preconditions(world, sandbox):
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    cases = [
        ({}, "command is required"),
        ({"command": []}, "command is required"),
        ({"command": ["x"] * 33}, "command has too many arguments"),
        ({"command": ["echo", " "]}, "command arguments cannot be empty"),
        ({"command": ["echo", "é" * 2100]}, "command argument is too long"),  # 4200 bytes
        ({"command": ["true"], "timeoutSeconds": 601}, "timeoutSeconds must be between 1 and 600"),
        ({"command": ["true"], "cwd": "relative"}, "cwd must be an absolute path without '..'"),
    ]
    for payload, message in cases:
        response = await world.client.post(path, json=payload)
        assert (response.status_code, response.json()) == (400, {"error": message}), payload
    stopped = await world.launch()
    response = await world.client.post(
        f"/v1/sandboxes/{stopped['id']}/tasks", json={"command": ["true"]}
    )
    assert (response.status_code, response.json()["error"]) == (
        409,
        "sandbox must be running before starting a task",
    )


async def test_idempotency_key_returns_the_first_task(world, sandbox):
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    payload = {"command": ["true"], "idempotencyKey": "deploy-42"}
    first = await world.client.post(path, json=payload)
    second = await world.client.post(path, json=payload)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    await world.runner.start_queued()


async def test_tasks_in_progress_are_limited_per_sandbox(world, sandbox):
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    for _ in range(8):
        assert (await world.client.post(path, json={"command": ["sleep", "5"]})).status_code == 201
    refused = await world.client.post(path, json={"command": ["true"]})
    assert refused.status_code == 429
    assert refused.json() == {"error": "too many tasks in progress in this sandbox (at most 8)"}
    for task in (await world.get(path))["items"]:
        await world.post(f"/v1/tasks/{task['id']}/cancel")
    await world.runner.start_queued()


async def test_tasks_left_running_by_a_dead_server_fail_with_a_reason(
    world, sandbox, settings, database
):
    task = await world.post(f"/v1/sandboxes/{sandbox['id']}/tasks", {"command": ["sleep", "30"]})
    with database.session() as db:  # a server that has since died had claimed it
        assert tasks.claim(db, task_id=uuid.UUID(task["id"]), runner="gone:1:dead")
    successor = TaskRunner(database, world.runtime, task_output_store(settings))
    job = asyncio.create_task(successor.run(0.1))
    try:
        done = await world.finished(task, timeout=5)
    finally:
        job.cancel()
    assert (done["status"], done["error"]) == (
        "failed",
        "the server restarted while the task was running",
    )


async def test_task_creation_is_audited_and_counts_as_activity(world, sandbox):
    before = (await world.get(f"/v1/sandboxes/{sandbox['id']}"))["lastActivityAt"]
    await world.finished(await world.start_task(sandbox, ["true"]))
    after = (await world.get(f"/v1/sandboxes/{sandbox['id']}"))["lastActivityAt"]
    assert after > before
    [event] = (await world.get("/v1/audit-events", action="execution.task.created"))["items"]
    assert event["metadata"]["commandArgCount"] == 1
