"""Execution task routes: create, list, get, cancel, event stream, full output."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from backend import changes
from backend.api import waits
from backend.api.deps import (
    Body,
    DatabaseDep,
    DbDep,
    PrincipalDep,
    SandboxId,
    TaskId,
    TaskOutputDep,
)
from backend.api.openapi import body, returns, returns_list, schema_only
from backend.api.responses import PageLimit, item, items
from backend.api.waits import WaitSeconds
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database
from backend.errors import InvalidInput
from backend.tasks import service as tasks
from backend.tasks.events import task_events
from backend.tasks.models import (
    FINISHED_STATUSES,
    ExecutionTask,
    ExecutionTaskCreate,
    ExecutionTaskEvent,
    ExecutionTaskRow,
)
from backend.tasks.output import STREAMS

router = APIRouter(tags=["tasks"])
Offset = Annotated[str | None, Query()]


@router.get("/v1/sandboxes/{sandboxID}/tasks", responses=returns_list(ExecutionTask))
def list_tasks(db: DbDep, sandbox_id: SandboxId, limit: PageLimit) -> JSONResponse:
    rows = tasks.list_tasks(db, sandbox_id=sandbox_id, limit=limit + 1)
    return items(ExecutionTask, rows, limit)


@router.post(
    "/v1/sandboxes/{sandboxID}/tasks",
    status_code=201,
    responses=returns(ExecutionTask, 201),
    openapi_extra=body(ExecutionTaskCreate),
)
async def create_task(
    database: DatabaseDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    wait: WaitSeconds,
    data: ExecutionTaskCreate = Body(ExecutionTaskCreate),
) -> JSONResponse:
    """Queue a command; 201 when created, 200 when an idempotency key repeats an earlier one.
    With `wait`, answer once the task has finished (or the seconds have passed)."""
    with waits.watching("task-ended") as wakeup:  # before the create: no end goes unseen
        task, created = await database.call(
            tasks.create_task, principal=principal, sandbox_id=sandbox_id, data=data
        )
        task = await _until_finished(database, principal, wakeup, task, wait)
    return item(ExecutionTask, task, 201 if created else 200)


@router.get("/v1/tasks/{taskID}", responses=returns(ExecutionTask))
async def get_task(
    database: DatabaseDep, principal: PrincipalDep, task_id: TaskId, wait: WaitSeconds
) -> JSONResponse:
    """The task; with `wait`, once it has finished (or the seconds have passed)."""
    with waits.watching("task-ended") as wakeup:  # before the read: no end goes unseen
        task = await _read(database, principal, task_id)
        task = await _until_finished(database, principal, wakeup, task, wait)
    return item(ExecutionTask, task)


async def _read(database: Database, principal: Principal, task_id: uuid.UUID) -> ExecutionTaskRow:
    # As a scoped session would: another project's task is a 404 (every role may read).
    return await database.read(
        tasks.readable, principal=principal, task_id=task_id, permission=Permission.READ
    )


async def _until_finished(
    database: Database,
    principal: Principal,
    wakeup: changes.Changes,
    task: ExecutionTaskRow,
    seconds: float | None,
) -> ExecutionTaskRow:
    return await waits.until(
        wakeup,
        task,
        seconds=seconds,
        key=str(task.id),
        done=lambda row: row.status in FINISHED_STATUSES,
        load=lambda: _read(database, principal, task.id),
    )


@router.post("/v1/tasks/{taskID}/cancel", responses=returns(ExecutionTask))
def cancel_task(db: DbDep, principal: PrincipalDep, task_id: TaskId) -> JSONResponse:
    return item(ExecutionTask, tasks.request_cancel(db, principal=principal, task_id=task_id))


def _offset(value: str | None, name: str) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit():
        raise InvalidInput(f"{name} must be a byte offset (0 or more)")
    return int(value)


@router.get(
    "/v1/tasks/{taskID}/events",
    responses={
        **schema_only(ExecutionTaskEvent),
        200: {
            "description": "NDJSON: snapshot, status and output events, then done",
            "content": {
                "application/x-ndjson": {
                    "schema": {"$ref": "#/components/schemas/ExecutionTaskEvent"}
                }
            },
        },
    },
)
async def task_event_stream(
    database: DatabaseDep,
    principal: PrincipalDep,
    output: TaskOutputDep,
    task_id: TaskId,
    stdoutOffset: Offset = None,  # noqa: N803 - resume from these byte offsets
    stderrOffset: Offset = None,  # noqa: N803
) -> StreamingResponse:
    offsets = {
        "stdout": _offset(stdoutOffset, "stdoutOffset"),
        "stderr": _offset(stderrOffset, "stderrOffset"),
    }

    async def load():
        return await database.call(
            tasks.readable, principal=principal, task_id=task_id, permission=Permission.READ_CONTENT
        )

    await load()  # 404 before the stream starts
    return StreamingResponse(
        task_events(load, output, task_id, offsets),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/tasks/{taskID}/output",
    responses={
        200: {
            "description": "The whole output stream, from `offset`",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def task_output(
    store: TaskOutputDep,
    db: DbDep,
    principal: PrincipalDep,
    task_id: TaskId,
    stream: Annotated[str, Query()] = "stdout",
    offset: Offset = None,
) -> StreamingResponse:
    """The full output of one stream (the task row keeps only the first 64 KiB)."""
    tasks.readable(db, principal=principal, task_id=task_id, permission=Permission.READ_CONTENT)
    if stream not in STREAMS:
        raise InvalidInput("stream must be stdout or stderr")
    start = _offset(offset, "offset")

    def chunks():
        position = start
        while data := store.read(task_id, stream, position, 1024 * 1024):
            position += len(data)
            yield data

    return StreamingResponse(chunks(), media_type="application/octet-stream")
