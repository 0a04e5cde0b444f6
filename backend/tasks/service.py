"""Execution tasks: commands run in a sandbox, asynchronously, with their output kept.

The API creates a task `queued`; the task runner engine claims it (`running`), runs it
through the runtime and finishes it (`succeeded`, `failed`, `canceled`, `timed_out`).
Cancel is a request recorded on the task; the runner carries it out.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlmodel import Session, col, func, select, update

from backend import audit, changes
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, InvalidInput, TooManyRequests
from backend.policy import service as policy
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.tasks.models import FINISHED_STATUSES, ExecutionTaskCreate, ExecutionTaskRow
from backend.validation import metadata_value

MAX_ARGS = 32
MAX_ARG_BYTES = 4096
DEFAULT_TIMEOUT = 60
MAX_TIMEOUT = 600
MAX_ARTIFACT_PATTERNS = 16
MAX_IN_PROGRESS = 8  # queued + running tasks per sandbox
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def list_tasks(
    db: Session, *, sandbox_id: uuid.UUID, limit: int | None = None
) -> list[ExecutionTaskRow]:
    sandboxes.get_sandbox(db, sandbox_id)
    query = (
        select(ExecutionTaskRow)
        .where(ExecutionTaskRow.sandbox_id == sandbox_id)
        .order_by(col(ExecutionTaskRow.created_at).desc(), col(ExecutionTaskRow.id))
        .limit(limit)
    )
    return list(db.exec(query))


def get_task(db: Session, task_id: uuid.UUID) -> ExecutionTaskRow:
    return get_row(db, ExecutionTaskRow, task_id)


def readable(
    db: Session, *, principal: Principal, task_id: uuid.UUID, permission: Permission
) -> ExecutionTaskRow:
    """A task the principal may read this way (its output: read-content)."""
    task = get_task(db, task_id)
    access.require(principal, permission, task.project_id)
    return task


def create_task(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, data: ExecutionTaskCreate
) -> tuple[ExecutionTaskRow, bool]:
    """Queue a task; returns (task, created). With an idempotency key already used in this
    sandbox, the earlier task is returned instead (created=False)."""
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    if sandbox.status != "running":
        raise Conflict("sandbox must be running before starting a task")
    if sandbox.runtime_ref is None:
        raise Conflict("sandbox runtime is not ready")
    command = _command(data.command)
    timeout = _timeout(data.timeout_seconds)
    key = _idempotency_key(data.idempotency_key)
    if key and (earlier := _by_key(db, sandbox_id, key)) is not None:
        return earlier, False
    _check_capacity(db, sandbox_id)
    _check_quota(db, principal, sandbox)
    task = ExecutionTaskRow(
        project_id=sandbox.project_id,
        sandbox_id=sandbox_id,
        command=command,
        timeout_seconds=timeout,
        env=_env(data.env),
        cwd=_cwd(data.cwd),
        idempotency_key=key,
        artifact_paths=_artifact_paths(data.artifact_paths),
        runtime_ref=sandbox.runtime_ref,
        meta=metadata_value(data.metadata),
    )
    db.add(task)
    sandbox.last_activity_at = utcnow()  # a task is activity: the idle clock restarts
    audit.service.record_change(
        db,
        principal=principal,
        action="execution.task.created",
        subject=task,
        metadata={
            "sandboxId": str(sandbox_id),
            "commandArgCount": len(command),
            "timeoutSeconds": timeout,
        },
    )
    commit(db)
    changes.notify("tasks", str(task.id))
    changes.notify("task-queue", str(task.id))  # the runners: a task to claim
    return task, True


def request_cancel(db: Session, *, principal: Principal, task_id: uuid.UUID) -> ExecutionTaskRow:
    task = get_task(db, task_id)
    access.require(principal, Permission.OPERATE, task.project_id)
    if task.status in FINISHED_STATUSES:
        raise Conflict("task is already finished")
    now = utcnow()
    if task.status == "queued":  # never started: nothing to signal
        task.status, task.error, task.finished_at = "canceled", "task canceled", now
    task.cancel_requested_at = task.cancel_requested_at or now
    task.updated_at = now
    audit.service.record_change(
        db,
        principal=principal,
        action="execution.task.cancel.requested",
        subject=task,
        metadata={"sandboxId": str(task.sandbox_id), "status": task.status},
    )
    commit(db)
    changes.notify("tasks", str(task.id))
    if task.status in FINISHED_STATUSES:  # a queued task canceled: it ended here
        changes.notify("task-ended", str(task.id))
    return task


# -- the runner's side --------------------------------------------------------------------


def claim(db: Session, *, task_id: uuid.UUID, runner: str) -> bool:
    """Atomically take a queued task (any replica may try; exactly one wins)."""
    now = utcnow()
    result = db.exec(
        update(ExecutionTaskRow)
        .where(col(ExecutionTaskRow.id) == task_id, col(ExecutionTaskRow.status) == "queued")
        .values(status="running", runner=runner, started_at=now, updated_at=now)
    )
    commit(db)
    return result.rowcount == 1


def take(db: Session, *, task_id: uuid.UUID, runner: str) -> ExecutionTaskRow | None:
    """Claim one queued task by id and return it (None: gone, or another runner won):
    one statement, the claim and the read."""
    now = utcnow()
    claimed = db.execute(
        update(ExecutionTaskRow)
        .where(col(ExecutionTaskRow.id) == task_id, col(ExecutionTaskRow.status) == "queued")
        .values(status="running", runner=runner, started_at=now, updated_at=now)
        .returning(ExecutionTaskRow)
    ).scalar_one_or_none()
    commit(db)
    return claimed


def queued(db: Session) -> list[ExecutionTaskRow]:
    query = (
        select(ExecutionTaskRow)
        .where(ExecutionTaskRow.status == "queued")
        .order_by(col(ExecutionTaskRow.created_at))
    )
    return list(db.exec(query))


def cancel_requested(db: Session, task_id: uuid.UUID) -> bool:
    task = db.get(ExecutionTaskRow, task_id)
    return task is None or task.cancel_requested_at is not None


def finish(db: Session, *, task_id: uuid.UUID, **outcome: Any) -> None:
    """Record how a task ended (status, exit code, output head, sizes, error): one
    UPDATE, then the waiters on this task answer at once."""
    now = utcnow()
    db.exec(
        update(ExecutionTaskRow)
        .where(col(ExecutionTaskRow.id) == task_id)
        .values(**outcome, finished_at=now, updated_at=now)
    )
    commit(db)
    changes.notify("tasks", str(task_id))
    changes.notify("task-ended", str(task_id))


def fail_abandoned(db: Session, *, runner: str) -> int:
    """Tasks left `running` by a server process that is gone: their processes died with
    it (sandboxes die with the server), so they fail with a reason instead of hanging."""
    now = utcnow()
    result = db.exec(
        update(ExecutionTaskRow)
        .where(col(ExecutionTaskRow.status) == "running", col(ExecutionTaskRow.runner) != runner)
        .values(
            status="failed",
            error="the server restarted while the task was running",
            finished_at=now,
            updated_at=now,
        )
    )
    commit(db)
    return result.rowcount


# -- input rules --------------------------------------------------------------------------


def _command(command: list[str] | None) -> list[str]:
    if not command:
        raise InvalidInput("command is required")
    if len(command) > MAX_ARGS:
        raise InvalidInput("command has too many arguments")
    if any(not arg.strip() for arg in command):
        raise InvalidInput("command arguments cannot be empty")
    if any(len(arg.encode()) > MAX_ARG_BYTES for arg in command):
        raise InvalidInput("command argument is too long")
    return list(command)


def _timeout(seconds: int | None) -> int:
    if seconds is None or seconds == 0:
        return DEFAULT_TIMEOUT
    if not 1 <= seconds <= MAX_TIMEOUT:
        raise InvalidInput(f"timeoutSeconds must be between 1 and {MAX_TIMEOUT}")
    return seconds


def _env(env: dict[str, str] | None) -> dict[str, str]:
    for name in env or {}:
        if not ENV_NAME.match(name):
            raise InvalidInput(f'env name "{name}" is invalid (letters, digits and _ only)')
    return dict(env or {})


def _cwd(cwd: str | None) -> str:
    if not cwd:
        return ""
    if not cwd.startswith("/") or ".." in cwd.split("/"):
        raise InvalidInput("cwd must be an absolute path without '..'")
    return cwd


def _artifact_paths(patterns: list[str] | None) -> list[str]:
    """Workspace globs collected when the task ends (`out/*.xml`, `reports/**`)."""
    patterns = list(patterns or [])
    if len(patterns) > MAX_ARTIFACT_PATTERNS:
        raise InvalidInput(f"artifactPaths has more than {MAX_ARTIFACT_PATTERNS} patterns")
    for pattern in patterns:
        pieces = pattern.split("/")
        if not pattern.strip() or len(pattern) > 1024 or pattern.startswith("/") or ".." in pieces:
            shown = pattern[:80]
            raise InvalidInput(f'artifactPaths "{shown}" must be a relative glob without ".."')
    return patterns


def _idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("idempotencyKey must be 1 to 128 printable characters")
    return key


def _by_key(db: Session, sandbox_id: uuid.UUID, key: str) -> ExecutionTaskRow | None:
    query = select(ExecutionTaskRow).where(
        ExecutionTaskRow.sandbox_id == sandbox_id, ExecutionTaskRow.idempotency_key == key
    )
    return db.exec(query).first()


def _check_capacity(db: Session, sandbox_id: uuid.UUID) -> None:
    in_progress = db.exec(
        select(func.count())
        .select_from(ExecutionTaskRow)
        .where(
            ExecutionTaskRow.sandbox_id == sandbox_id,
            col(ExecutionTaskRow.status).in_(IN_PROGRESS),
        )
    ).one()
    if in_progress >= MAX_IN_PROGRESS:
        raise TooManyRequests(
            f"too many tasks in progress in this sandbox (at most {MAX_IN_PROGRESS})"
        )


IN_PROGRESS = ("queued", "running")


def count_in_progress(db: Session, project_id: uuid.UUID) -> int:
    """The project's tasks queued or running: what maxTasksInProgress counts."""
    return db.exec(
        select(func.count())
        .select_from(ExecutionTaskRow)
        .where(
            ExecutionTaskRow.project_id == project_id,
            col(ExecutionTaskRow.status).in_(IN_PROGRESS),
        )
    ).one()


def _check_quota(db: Session, principal: Principal, sandbox: SandboxRow) -> None:
    """One more task in progress in the project (counted under its lock)."""
    policy.check_one_more(
        db,
        principal=principal,
        project_id=sandbox.project_id,
        measure="tasks",
        count=lambda: count_in_progress(db, sandbox.project_id),
        operation="execution.task.create",
        subject=(ExecutionTaskRow.audit_type, sandbox.name),
        metadata={"sandboxId": str(sandbox.id)},
    )
