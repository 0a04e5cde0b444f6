"""A task's event stream: a snapshot, then output and status changes as they happen, then
`done`. Output is read from the output store, so a client that reconnects with the byte
offsets it has seen continues exactly where it stopped (nothing lost, nothing repeated)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from backend import changes
from backend.tasks.models import FINISHED_STATUSES, ExecutionTask, ExecutionTaskRow
from backend.tasks.output import STREAMS, OutputStore

CHUNK_BYTES = 64 * 1024
POLL_SECONDS = 0.5


def complete_utf8(data: bytes) -> int:
    """Length of the longest prefix that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): is its character complete?
            needed = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4
            return len(data) if needed <= back else len(data) - back
    return len(data)


async def task_events(
    load: Callable[[], Awaitable[ExecutionTaskRow]],
    output: OutputStore,
    task_id: uuid.UUID,
    offsets: dict[str, int],
) -> AsyncIterator[bytes]:
    wakeup = changes.subscribe("tasks", "output")
    try:
        task = await load()
        yield _line("snapshot", task=task)
        positions = dict(offsets)
        status = task.status
        while True:
            finished = task.status in FINISHED_STATUSES  # output is complete before this
            for stream in STREAMS:
                async for line, used in _output(output, task_id, stream, positions, finished):
                    positions[stream] += used
                    yield line
            if finished:
                yield _line("done", task=task)
                return
            await wakeup.wait_at_most(POLL_SECONDS)
            wakeup.clear()
            task = await load()
            if task.status != status:
                status = task.status
                if status not in FINISHED_STATUSES:
                    yield _line("status", task=task)
    finally:
        changes.unsubscribe(wakeup)


async def _output(
    output: OutputStore, task_id: uuid.UUID, stream: str, positions: dict[str, int], final: bool
) -> AsyncIterator[tuple[bytes, int]]:
    offset = positions[stream]
    while data := output.read(task_id, stream, offset, CHUNK_BYTES):
        usable = len(data) if final else complete_utf8(data)
        if usable == 0:
            return
        text = data[:usable].decode("utf-8", "replace")
        yield _line("output", stream=stream, data=text, offset=offset), usable
        offset += usable


def _line(kind: str, *, task: ExecutionTaskRow | None = None, **fields: Any) -> bytes:
    event: dict[str, Any] = {"type": kind}
    if task is not None:
        event["task"] = ExecutionTask.from_row(task).to_json()
    event.update({k: v for k, v in fields.items() if v not in (None, 0)})
    event["createdAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return (json.dumps(event) + "\n").encode()
