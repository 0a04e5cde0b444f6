# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.
"""Execution tasks: start, wait without polling, stream output (resuming where a dropped
connection stopped), cancel."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from mbox import _io, models
from mbox.errors import ConnectionFailedError, TaskFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from mbox._sync.client import Mbox

FINISHED = frozenset({"succeeded", "failed", "canceled", "timed_out"})
MAX_SERVER_WAIT = 60.0  # seconds one long-poll may ask the server to hold
RESUME_ATTEMPTS = 5  # reconnections in a row without news before the stream gives up
STREAM_TIMEOUT = math.inf  # an event stream waits for output as long as the task runs


class Tasks:
    def __init__(self, client: Mbox) -> None:
        self._client = client
        self._http = client.transport

    def list(self, sandbox_id: str, *, limit: int | None = None) -> list[models.ExecutionTask]:
        body = self._http.json("GET", f"/v1/sandboxes/{sandbox_id}/tasks", params={"limit": limit})
        return [models.ExecutionTask.from_json(item) for item in body.get("items", [])]

    def create(
        self,
        sandbox_id: str,
        command: Iterable[str],
        *,
        timeout: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        artifact_paths: Iterable[str] | None = None,
        metadata: Any = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> models.ExecutionTask:
        """Queue `command` (an argv list; for a shell line use ["sh", "-c", line]).
        `timeout` is the task's own limit in seconds (server default otherwise); with
        `wait`, the server answers when the task ends or after `wait` seconds."""
        from mbox._sync.client import _body, new_key

        payload = _body(
            command=list(command),
            timeoutSeconds=timeout,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            artifactPaths=list(artifact_paths) if artifact_paths is not None else None,
            metadata=metadata,
            idempotencyKey=idempotency_key or new_key(),
        )
        body = self._http.json(
            "POST",
            f"/v1/sandboxes/{sandbox_id}/tasks",
            json=payload,
            params={"wait": _seconds(wait)},
            timeout=self._http.request_timeout + (wait or 0),
        )
        return models.ExecutionTask.from_json(body)

    def get(self, task_id: str, *, wait: float | None = None) -> models.ExecutionTask:
        """The task; with `wait`, the server answers when it ends or after `wait` seconds."""
        body = self._http.json(
            "GET",
            f"/v1/tasks/{task_id}",
            params={"wait": _seconds(wait)},
            timeout=self._http.request_timeout + (wait or 0),
        )
        return models.ExecutionTask.from_json(body)

    def wait(self, task_id: str, *, timeout: float | None = None) -> models.ExecutionTask:
        """The task once it has ended; WaitTimeoutError after `timeout` seconds (None: as
        long as it takes). The server holds each request until the task ends: no polling."""
        deadline = None if timeout is None else _io.monotonic() + timeout
        task = self.get(task_id)
        while task.status not in FINISHED:
            remaining = MAX_SERVER_WAIT if deadline is None else deadline - _io.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(f"task {task_id} is still {task.status} after {timeout} s")
            task = self._held(task_id, min(remaining, MAX_SERVER_WAIT))
        return task

    def _held(self, task_id: str, seconds: float) -> models.ExecutionTask:
        started = _io.monotonic()
        task = self.get(task_id, wait=seconds)
        if task.status not in FINISHED and _io.monotonic() - started < min(seconds, 0.05):
            _io.sleep(0.1)  # a server that does not hold: do not spin
        return task

    def run(
        self,
        sandbox_id: str,
        command: Iterable[str],
        *,
        timeout: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        artifact_paths: Iterable[str] | None = None,
        metadata: Any = None,
        check: bool = False,
        on_stdout: Callable[[str], Any] | None = None,
        on_stderr: Callable[[str], Any] | None = None,
        idempotency_key: str | None = None,
    ) -> models.ExecutionTask:
        """Run `command` to its end and return the finished task (exit_code, stdout,
        stderr: the first 64 KiB of each; `output` has the rest). With `on_stdout` /
        `on_stderr` the output is streamed to them as it comes. With `check`, a task that
        does not succeed raises TaskFailedError."""
        streaming = on_stdout is not None or on_stderr is not None
        task = self.create(
            sandbox_id,
            command,
            timeout=timeout,
            env=env,
            cwd=cwd,
            artifact_paths=artifact_paths,
            metadata=metadata,
            idempotency_key=idempotency_key,
            wait=None if streaming else MAX_SERVER_WAIT,
        )
        if streaming:
            for event in self.events(task.id):
                if event.type == "output" and event.data:
                    handler = on_stdout if event.stream == "stdout" else on_stderr
                    if handler is not None:
                        handler(event.data)
                elif event.type == "done" and event.task is not None:
                    task = event.task
        if task.status not in FINISHED:
            task = self.wait(task.id)
        if check and task.status != "succeeded":
            raise TaskFailedError(_failure(task), task)
        return task

    def events(
        self, task_id: str, *, stdout_offset: int = 0, stderr_offset: int = 0
    ) -> Iterator[models.ExecutionTaskEvent]:
        """The task's events (snapshot, output, status, done) as they happen. A dropped
        connection is resumed from the byte offsets already delivered: nothing is lost or
        repeated."""
        offsets = {"stdout": stdout_offset, "stderr": stderr_offset}
        failures, first = 0, True
        while True:
            params = {"stdoutOffset": offsets["stdout"], "stderrOffset": offsets["stderr"]}
            try:
                with self._http.stream(
                    "GET", f"/v1/tasks/{task_id}/events", params=params, timeout=STREAM_TIMEOUT
                ) as response:
                    for line in response.iter_lines():
                        if not line.strip():
                            continue
                        event = models.ExecutionTaskEvent.from_json(json.loads(line))
                        failures = 0
                        if event.type == "output" and event.stream in offsets and event.data:
                            offsets[event.stream] = (event.offset or 0) + len(event.data.encode())
                        if event.type == "snapshot" and not first:
                            continue  # a resumed stream's snapshot was seen already
                        first = False
                        yield event
                        if event.type == "done":
                            return
            except (httpx.TransportError, ConnectionFailedError):
                failures += 1
                if failures > RESUME_ATTEMPTS:
                    raise
                _io.sleep(0.2 * failures)

    def output(self, task_id: str, stream: str = "stdout", *, offset: int = 0) -> bytes:
        """The whole output of one stream from `offset` (not capped like the task row)."""
        response = self._http.send(
            "GET", f"/v1/tasks/{task_id}/output", params={"stream": stream, "offset": offset}
        )
        return response.content

    def cancel(self, task_id: str) -> models.ExecutionTask:
        body = self._http.json("POST", f"/v1/tasks/{task_id}/cancel")
        return models.ExecutionTask.from_json(body)

    def artifacts(self, task_id: str) -> list[models.Artifact]:
        return self._client.artifacts.list_for_task(task_id)


def _seconds(wait: float | None) -> str | None:
    return None if wait is None else f"{max(0.0, min(wait, MAX_SERVER_WAIT)):g}"


def _failure(task: models.ExecutionTask) -> str:
    detail = task.error or (f"exit code {task.exit_code}" if task.exit_code is not None else "")
    return f"task {task.id} {task.status}" + (f": {detail}" if detail else "")
