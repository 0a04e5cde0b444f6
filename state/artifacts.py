"""Artifacts page state: a project's artifacts, deleted sandboxes' included (a retained
copy outlives its sandbox), filtered by sandbox, task and kind.

The filters live in the address (`/artifacts?project=<id>&sandbox=<id>&task=<id>&kind=log`),
so a reload or a shared link shows the same list; a filter that names nothing of the
project falls back to "all". Downloads are same-origin links to the API's content route
(`state.sandbox_artifacts.content_url`), fetched with the console's sign-in cookie.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from urllib.parse import urlencode

import reflex as rx

from backend.artifacts import service as artifacts
from backend.artifacts.models import ARTIFACT_KINDS, ArtifactContentRow, ArtifactRow
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.projects import service as projects
from backend.sandboxes.models import SandboxRow
from backend.tasks.models import ExecutionTaskRow
from state.base import Choice, Feedback, acting, db_session, in_thread, refusal
from state.format import byte_size, short_id, timestamp
from state.sandbox_artifacts import STORE_LABELS, TASK_LABEL_CHARS, content_url
from state.sandbox_tasks import command_text

ALL = "all"  # a filter's "no filter" value (a select item cannot be "")
LIMIT = 500  # rows shown; the newest first
FILTERS = ("sandbox", "task", "kind")
KIND_CHOICES = [Choice(kind, kind.capitalize()) for kind in ARTIFACT_KINDS]


@dataclasses.dataclass
class ProjectArtifact:
    """One row: the artifact, where it came from, and its retained copy (if any)."""

    id: str = ""
    name: str = ""
    kind: str = ""
    uri: str = ""
    sandbox_id: str = ""
    sandbox_name: str = ""
    sandbox_href: str = ""  # its page, while the sandbox exists
    sandbox_deleted: bool = False
    task_short: str = ""
    task_label: str = ""
    retained: bool = False
    size: str = ""  # "12 KiB · database" of the retained copy
    url: str = ""  # the retained copy's download
    created: str = ""
    created_full: str = ""


@dataclasses.dataclass
class ArtifactsView:
    projects: list[Choice]
    project: str
    sandboxes: list[Choice]
    tasks: list[Choice]
    filters: dict[str, str]
    items: list[ProjectArtifact]


def _sandbox_label(sandbox: SandboxRow) -> str:
    return f"{sandbox.name} (deleted)" if sandbox.deleted_at else sandbox.name


def _task_label(task: ExecutionTaskRow) -> str:
    command = command_text(task.command)
    if len(command) > TASK_LABEL_CHARS:
        command = command[: TASK_LABEL_CHARS - 1] + "…"
    return f"Task {short_id(str(task.id))} · {command}"


def _row(
    row: ArtifactRow,
    content: ArtifactContentRow | None,
    sandboxes: dict[uuid.UUID, SandboxRow],
    tasks: dict[uuid.UUID, ExecutionTaskRow],
) -> ProjectArtifact:
    sandbox = sandboxes.get(row.sandbox_id)
    task = tasks.get(row.task_id) if row.task_id else None
    deleted = sandbox is None or sandbox.deleted_at is not None
    size = ""
    if content is not None:
        provider = STORE_LABELS.get(content.storage_provider, "")
        size = byte_size(content.size_bytes) + (f" · {provider}" if provider else "")
    return ProjectArtifact(
        id=str(row.id),
        name=row.name,
        kind=row.kind,
        uri=row.uri,
        sandbox_id=str(row.sandbox_id),
        sandbox_name=_sandbox_label(sandbox) if sandbox else short_id(str(row.sandbox_id)),
        sandbox_href="" if deleted else f"/sandboxes/{row.sandbox_id}",
        sandbox_deleted=deleted,
        task_short=short_id(str(row.task_id)) if row.task_id else "",
        task_label=_task_label(task) if task else "",
        retained=content is not None,
        size=size,
        url=content_url(str(row.id)) if content is not None else "",
        created=row.created_at.strftime("%Y-%m-%d %H:%M"),
        created_full=timestamp(row.created_at),
    )


def _chosen(value: str, choices: list[Choice]) -> str:
    return value if value in {choice.value for choice in choices} else ALL


def read_artifacts(principal: Principal, project: str, asked: dict[str, str]) -> ArtifactsView:
    """The projects to choose from, the chosen one's (else the first's) artifacts under
    the filters that name something of it, and what each filter offers."""
    with db_session(principal) as db:
        found = projects.list_projects(db)
        choices = [Choice(str(p.id), p.name) for p in found]
        project = project if project in {c.value for c in choices} else ""
        project = project or (choices[0].value if choices else "")
        if not project:
            return ArtifactsView(choices, "", [], [], dict.fromkeys(FILTERS, ALL), [])
        project_id = uuid.UUID(project)
        sandbox_rows, task_rows = artifacts.origins(db, project_id=project_id)
        sandboxes = [Choice(str(s.id), _sandbox_label(s)) for s in sandbox_rows]
        sandbox = _chosen(asked.get("sandbox", ALL), sandboxes)
        if sandbox != ALL:
            task_rows = [t for t in task_rows if str(t.sandbox_id) == sandbox]
        tasks = [Choice(str(t.id), _task_label(t)) for t in task_rows]
        task = _chosen(asked.get("task", ALL), tasks)
        kind = _chosen(asked.get("kind", ALL), KIND_CHOICES)
        rows = artifacts.list_for_project(
            db,
            project_id=project_id,
            sandbox_id=None if sandbox == ALL else uuid.UUID(sandbox),
            task_id=None if task == ALL else uuid.UUID(task),
            kind=None if kind == ALL else kind,
            limit=LIMIT,
        )
    by_id = {s.id: s for s in sandbox_rows}
    by_task = {t.id: t for t in task_rows}
    items = [_row(row, content, by_id, by_task) for row, content in rows]
    filters = {"sandbox": sandbox, "task": task, "kind": kind}
    return ArtifactsView(choices, project, sandboxes, tasks, filters, items)


def page_link(project: str, filters: dict[str, str]) -> str:
    """The page's address with its project and filters (reloaded or shared, it shows the
    same list)."""
    asked = {"project": project, **filters}
    kept = {key: value for key, value in asked.items() if value and value != ALL}
    return "/artifacts" + (f"?{urlencode(kept)}" if kept else "")


class ArtifactsState(Feedback, rx.State):
    projects: list[Choice] = []
    project: str = ""
    sandboxes: list[Choice] = []
    tasks: list[Choice] = []
    filters: dict[str, str] = dict.fromkeys(FILTERS, ALL)
    items: list[ProjectArtifact] = []
    loaded: bool = False

    @rx.var
    def sandbox_options(self) -> list[Choice]:
        return [Choice(ALL, "All sandboxes"), *self.sandboxes]

    @rx.var
    def task_options(self) -> list[Choice]:
        return [Choice(ALL, "All tasks"), *self.tasks]

    @rx.var
    def kind_options(self) -> list[Choice]:
        return [Choice(ALL, "All kinds"), *KIND_CHOICES]

    @rx.var
    def filtered(self) -> bool:
        return any(value != ALL for value in self.filters.values())

    @rx.var
    def count_words(self) -> str:
        count = len(self.items)
        words = f"{count} artifact{'' if count == 1 else 's'}"
        return f"The newest {LIMIT} artifacts" if count >= LIMIT else words

    @rx.event
    async def load(self):
        """Open the page: the project and filters from the address."""
        asked = self.router.url.query_parameters
        self.project = asked.get("project", "")
        self.filters = {name: asked.get(name, ALL) or ALL for name in FILTERS}
        await self._refresh()
        return self._show_filters()

    async def _refresh(self) -> None:
        try:
            view = await in_thread(read_artifacts, await acting(self), self.project, self.filters)
        except ServiceError as exc:
            self.items, self.error = [], refusal(exc)
        else:
            self.projects, self.project = view.projects, view.project
            self.sandboxes, self.tasks = view.sandboxes, view.tasks
            self.filters, self.error = view.filters, ""
            if view.items != self.items:
                self.items = view.items
        self.loaded = True

    def _show_filters(self) -> rx.event.EventSpec:
        """Put the project and filters in the address bar (no navigation)."""
        link = json.dumps(page_link(self.project, self.filters))
        return rx.call_script(f"window.history.replaceState(window.history.state, '', {link})")

    @rx.event
    async def set_project(self, value: str):
        self.project = value
        self.filters = dict.fromkeys(FILTERS, ALL)
        await self._refresh()
        return self._show_filters()

    @rx.event
    async def set_filter(self, name: str, value: str):
        if name not in FILTERS:
            return None
        self.filters = {**self.filters, name: value or ALL}
        if name == "sandbox":
            self.filters["task"] = ALL  # another sandbox's tasks
        await self._refresh()
        return self._show_filters()

    @rx.event
    async def clear_filters(self):
        self.filters = dict.fromkeys(FILTERS, ALL)
        await self._refresh()
        return self._show_filters()

    @rx.event
    async def refresh(self):
        self.notice = ""
        await self._refresh()
