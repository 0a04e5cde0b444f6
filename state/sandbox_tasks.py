"""Sandbox page, Tasks tab: run a command, the sandbox's task history, and the selected
task's output followed live.

Commands typed in the console run as `sh -lc <text>`. The selected task's whole output is
read from the task output store (up to `SHOWN_BYTES` a stream) by `follow_task`, a
background event that wakes on the task runner's change notifications (at least every
`FOLLOW_SECONDS`) while the task is queued or running, and ends when it has finished, when
another task is selected, or when the page or tab changed. A newer invocation supersedes
an older one, so there is one follower per browser tab.

`TasksTab` is a tab of the sandbox page (state/sandbox.py): it reads the page's `view`,
`tab` and `_route_id()`.
"""

from __future__ import annotations

import dataclasses
import shlex
import uuid
from datetime import datetime
from typing import Any, ClassVar

import reflex as rx

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import utcnow
from backend.errors import ServiceError
from backend.tasks import service as task_service
from backend.tasks.events import complete_utf8
from backend.tasks.models import FINISHED_STATUSES, ExecutionTaskCreate, ExecutionTaskRow
from backend.validation import request_body
from state.base import (
    acting,
    attempt,
    change_rounds,
    db_session,
    in_thread,
    may,
    principal_of_cookie,
    services,
    sign_in_cookie,
)
from state.format import byte_size, clock, duration, parse_id, sentence, short_id, timestamp
from state.sandbox import SandboxState, SandboxTab, failure_words

SHELL = ("sh", "-lc")
DEFAULT_TIMEOUT = task_service.DEFAULT_TIMEOUT
MAX_TIMEOUT = task_service.MAX_TIMEOUT
SHOWN_BYTES = 256 * 1024  # of each stream, in the output panel
DOWNLOAD_BYTES = 8 * 1024 * 1024  # larger outputs: through the API
HISTORY = 50  # newest tasks listed
FOLLOW_SECONDS = 0.3  # longest wait between two reads of a running task
FOLLOW_GAP = 0.1  # shortest (output can arrive in many small chunks)


@dataclasses.dataclass
class TaskItem:
    """One row of the history."""

    id: str = ""
    command: str = ""
    status: str = ""
    exit_code: str = ""
    duration: str = ""
    started: str = ""
    started_full: str = ""


@dataclasses.dataclass
class StreamView:
    """What the panel shows of one output stream."""

    text: str = ""
    size: str = ""  # "12 B"
    # "Showing the first 256 KiB of 3.1 MiB." when only a part is shown, else "".
    partial: str = ""
    downloadable: bool = False  # the whole stream is small enough to download here


@dataclasses.dataclass
class TaskDetail:
    """The selected task."""

    id: str = ""
    command: str = ""
    status: str = ""
    active: bool = False  # queued or running: output may still come, cancel applies
    exit_code: str = ""
    error: str = ""
    duration: str = ""
    started: str = ""
    timeout: str = ""
    canceling: bool = False
    stdout: StreamView = dataclasses.field(default_factory=StreamView)
    stderr: StreamView = dataclasses.field(default_factory=StreamView)


def command_text(command: list[str]) -> str:
    """The command as typed: the script of `sh -lc <script>`, else the argv shell-quoted."""
    if len(command) == 3 and tuple(command[:2]) == SHELL:
        return command[2]
    return shlex.join(command)


def _span(start: datetime | None, end: datetime | None, now: datetime) -> str:
    return duration(((end or now) - start).total_seconds()) if start else ""


def _seconds(seconds: int) -> str:
    """A timeout as set: `30 s`, `1 min`, `10 min` (not `30.0 s`)."""
    return f"{seconds} s" if seconds < 60 else duration(seconds)


def _item(row: ExecutionTaskRow, now: datetime) -> TaskItem:
    return TaskItem(
        id=str(row.id),
        command=command_text(row.command),
        status=row.status,
        exit_code="" if row.exit_code is None else str(row.exit_code),
        duration=_span(row.started_at, row.finished_at, now),
        started=clock(row.started_at),
        started_full=timestamp(row.started_at),
    )


def _tail(data: bytes) -> bytes:
    """A tail read from the middle of a stream, from its first whole line."""
    newline = data.find(b"\n", 0, 4096)
    if newline >= 0:
        return data[newline + 1 :]
    start = 0
    while start < min(4, len(data)) and data[start] & 0xC0 == 0x80:  # inside a character
        start += 1
    return data[start:]


def _stream(principal: Principal, task_id: uuid.UUID, stream: str, active: bool) -> StreamView:
    """The last `SHOWN_BYTES` of the stream (like `tail -f` while the task runs); nothing
    for a role that may not read sandbox contents."""
    if not may(principal, Permission.READ_CONTENT):
        return StreamView(partial=f"The {principal.role} role cannot read task output.")
    store = services().task_output
    size = store.size(task_id, stream)
    offset = max(0, size - SHOWN_BYTES)
    data = store.read(task_id, stream, offset, SHOWN_BYTES)
    if offset:
        data = _tail(data)
    if active:  # the last character may be incomplete: it shows once it is
        data = data[: complete_utf8(data)]
    partial = ""
    if offset:
        partial = f"Showing the last {byte_size(len(data))} of {byte_size(size)}."
    return StreamView(
        text=data.decode("utf-8", "replace"),
        size=byte_size(size),
        partial=partial,
        downloadable=bool(partial) and size <= DOWNLOAD_BYTES,
    )


def read_task(principal: Principal, task_id: str) -> tuple[TaskDetail, TaskItem] | None:
    """The task with its output as the panel shows it, and its history row."""
    parsed = parse_id(task_id)
    if parsed is None:
        return None
    with db_session(principal) as db:
        try:
            row = task_service.get_task(db, parsed)
        except ServiceError:
            return None
    now = utcnow()
    active = row.status not in FINISHED_STATUSES
    detail = TaskDetail(
        id=task_id,
        command=command_text(row.command),
        status=row.status,
        active=active,
        exit_code="" if row.exit_code is None else str(row.exit_code),
        error=sentence(row.error),
        duration=_span(row.started_at, row.finished_at, now),
        started=timestamp(row.started_at),
        timeout=_seconds(row.timeout_seconds),
        canceling=active and row.cancel_requested_at is not None,
        stdout=_stream(principal, parsed, "stdout", active),
        stderr=_stream(principal, parsed, "stderr", active),
    )
    return detail, _item(row, now)


def read_tasks(principal: Principal, sandbox_id: str) -> list[TaskItem]:
    with db_session(principal) as db:
        rows = task_service.list_tasks(db, sandbox_id=uuid.UUID(sandbox_id))
    now = utcnow()
    return [_item(row, now) for row in rows[:HISTORY]]


def create_task(principal: Principal, sandbox_id: str, script: str, timeout: int) -> str:
    data = request_body(
        ExecutionTaskCreate, {"command": [*SHELL, script], "timeoutSeconds": timeout}
    )
    with db_session(principal) as db:
        task, _ = task_service.create_task(
            db, principal=principal, sandbox_id=uuid.UUID(sandbox_id), data=data
        )
        return str(task.id)


def cancel_task(principal: Principal, task_id: str) -> None:
    with db_session(principal) as db:
        task_service.request_cancel(db, principal=principal, task_id=uuid.UUID(task_id))


def read_output(principal: Principal, task_id: str, stream: str) -> bytes:
    with db_session(principal) as db:
        task_service.readable(
            db, principal=principal, task_id=uuid.UUID(task_id), permission=Permission.READ_CONTENT
        )
    store = services().task_output
    return store.read(uuid.UUID(task_id), stream, 0, DOWNLOAD_BYTES)


TIMEOUT_WORDS = f"The timeout is a whole number of seconds from 1 to {MAX_TIMEOUT}."
# A refusal about the request body's field, shown next to the form's field.
FORM_FIELDS = {"command": "command", "timeoutSeconds": "timeout"}


def _timeout(value: Any) -> int | None:
    text = str(value or "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_TIMEOUT else None


def form_problem(script: str, timeout: int | None) -> tuple[str, str]:
    """(form field, words) for what is wrong with the form before it is sent; ("", "")."""
    if not script:
        return "command", "Enter a command to run: the field is empty."
    if len(script.encode()) > task_service.MAX_ARG_BYTES:
        return "command", f"The command is too long (at most {task_service.MAX_ARG_BYTES} bytes)."
    if timeout is None:
        return "timeout", TIMEOUT_WORDS
    return "", ""


class TasksTab(SandboxTab, SandboxState):
    """`error` and `busy` are running or canceling a task's (shown by the form or the
    panel); `tasks_error` is the history's."""

    TAB: ClassVar[str] = "tasks"
    tasks: list[TaskItem] = []
    tasks_error: str = ""
    task: TaskDetail = TaskDetail()

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            found = await in_thread(read_tasks, principal, sandbox_id)
            return {"tasks": found, "tasks_error": ""}
        except ServiceError as exc:
            return {"tasks": [], "tasks_error": exc.message}

    @classmethod
    def _followers(cls) -> list:
        return [cls.follow_task]

    def _shown(self, tab: str) -> None:
        self.error = self.error_field = ""  # a refusal to run or cancel is old news on return

    async def _open(self) -> None:
        """The tab opened: select the newest task when none is."""
        await super()._open()
        if not self.task.id and self.tasks:
            await self._select(self.tasks[0].id)

    async def _select(self, task_id: str, principal: Principal | None = None) -> None:
        principal = principal or await acting(self)
        read = await attempt(self, in_thread(read_task, principal, task_id), clear=(), busy=None)
        if not read:
            return
        if read.value is None:
            self.task = TaskDetail()
            return
        self._show(*read.value)

    def _show(self, detail: TaskDetail, item: TaskItem) -> None:
        if detail != self.task:
            self.task = detail
        for index, row in enumerate(self.tasks):
            if row.id == item.id:
                if row != item:
                    self.tasks[index] = item
                return
        self.tasks.insert(0, item)
        self._changes += 1

    @rx.event
    def clear_task_error(self, _value: str = ""):
        self.error = self.error_field = ""

    @rx.event
    async def select_task(self, task_id: str):
        self.error = ""
        await self._select(task_id)
        return type(self).follow_task

    @rx.event
    async def run_task(self, form: dict[str, Any]):
        await self._new_action()
        self.error = self.error_field = ""
        script = str(form.get("command") or "").strip()
        timeout = _timeout(form.get("timeout"))
        self.error_field, self.error = form_problem(script, timeout)
        if self.error or timeout is None:
            return None
        principal = await acting(self)
        call = in_thread(create_task, principal, self.view.id, script, timeout)
        made = await attempt(self, call, clear=(), fields=FORM_FIELDS)
        if not made:
            return None
        await self._select(made.value, principal)
        return type(self).follow_task

    @rx.event
    async def cancel_selected_task(self):
        await self._new_action()
        task_id = self.task.id
        principal = await acting(self)
        call = in_thread(cancel_task, principal, task_id)
        await attempt(self, call, clear=("error",), busy=None)
        await self._select(task_id, principal)
        return type(self).follow_task

    @rx.event
    async def download_output(self, stream: str):
        if stream not in ("stdout", "stderr") or not self.task.id:
            return None
        principal = await acting(self)
        call = in_thread(read_output, principal, self.task.id, stream)
        read = await attempt(self, call, clear=("error",), busy=None)
        if not read:
            return None
        name = f"task-{short_id(self.task.id)}-{stream}.txt"
        return rx.download(data=read.value, filename=name)

    @rx.event(background=True, supersedes=True)
    async def follow_task(self):
        """Keep the selected task's status and output current until it has finished."""
        async with self:
            task_id, sandbox_id = self.task.id, self.view.id
            if not (task_id and self.task.active and self.tab == "tasks"):
                return
            cookie = sign_in_cookie(self.router.headers.cookie)
        feed = change_rounds("tasks", "output", every=FOLLOW_SECONDS, gap=FOLLOW_GAP)
        async with feed as rounds:
            async for _ in rounds:
                try:
                    principal = await in_thread(principal_of_cookie, cookie)
                    found = await in_thread(read_task, principal, task_id)
                except Exception as exc:  # said in words; the history's refresh goes on
                    async with self:
                        self.error = failure_words(exc, "Could not follow the task")
                    return
                async with self:
                    if (
                        found is None
                        or self.task.id != task_id
                        or self.tab != "tasks"
                        or self._route_id() != sandbox_id
                    ):
                        return
                    self._show(*found)
                    if not found[0].active:
                        return
