"""Projects page state: the project list, the create form, and the inspector of the
selected project (usage charts, recent activity, edit and delete)."""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx

from backend.audit import service as audit
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.projects import service as projects
from backend.projects.models import ProjectCreate, ProjectRow, ProjectUpdate, ProjectUsage
from backend.reporting.usage import project_usage
from backend.templates import service as templates
from backend.validation import request_body, slugify
from state.audit import EventItem, event_item
from state.base import Choice, acting, attempt, db_session, in_thread, may, refusal
from state.format import byte_size
from state.sandbox_metrics import live_words

NO_TEMPLATE = "none"  # the "No default template" choice (a select item cannot be "")
RECENT_EVENTS = 5


@dataclasses.dataclass
class ProjectItem:
    """One table row, already formatted for display."""

    id: str
    name: str
    slug: str
    namespace: str
    repository_url: str
    repository_label: str
    created: str
    created_at: str


def _item(row: ProjectRow) -> ProjectItem:
    return ProjectItem(
        id=str(row.id),
        name=row.name,
        slug=row.slug,
        namespace=row.default_namespace,
        repository_url=row.repository_url,
        repository_label=row.repository_url.removeprefix("https://").removeprefix("http://"),
        created=row.created_at.strftime("%Y-%m-%d"),
        created_at=row.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


def list_projects(principal: Principal) -> list[ProjectItem]:
    with db_session(principal) as db:
        return [_item(row) for row in projects.list_projects(db)]


def create_project(principal: Principal, body: dict) -> str:
    """Create through the service (which audits it); return the stored name."""
    data = request_body(ProjectCreate, body)
    with db_session(principal) as db:
        return projects.create_project(db, principal=principal, data=data).name


@dataclasses.dataclass
class ChartBar:
    """One bar: its label, count, length (relative to the longest) and colour token."""

    label: str
    value: int
    width: str
    color: str


@dataclasses.dataclass
class ProjectDetail:
    """The inspector's words about the selected project."""

    id: str = ""
    name: str = ""
    slug: str = ""
    namespace: str = ""
    repository_url: str = ""
    default_template_id: str = ""
    default_template: str = ""
    created_at: str = ""
    sandboxes_summary: str = ""
    cleanup_note: str = ""
    tasks_summary: str = ""
    retained: str = ""
    retained_limit: str = ""
    retained_width: str = ""
    retained_summary: str = ""
    live: str = ""  # what its running sandboxes use now
    audit_href: str = ""


@dataclasses.dataclass
class Inspection:
    detail: ProjectDetail
    sandbox_bars: list[ChartBar]
    task_bars: list[ChartBar]
    events: list[EventItem]
    project_templates: list[Choice]
    global_templates: list[Choice]


SANDBOX_BARS = (
    ("running", "Running", "green"),
    ("pending", "Pending", "amber"),
    ("stopped", "Stopped", "gray"),
    ("failed", "Failed", "red"),
    ("deleted", "Deleted", "slate"),
)
TASK_BARS = (
    ("succeeded", "Succeeded", "green"),
    ("failed", "Failed", "red"),
    ("timed_out", "Timed out", "orange"),
    ("canceled", "Canceled", "gray"),
    ("running", "Running", "blue"),
    ("queued", "Queued", "slate"),
)


def _bars(counts: dict[str, int], spec: tuple[tuple[str, str, str], ...]) -> list[ChartBar]:
    longest = max((counts[key] for key, _, _ in spec), default=0) or 1
    return [
        ChartBar(label, counts[key], f"{counts[key] * 100 / longest:.0f}%", f"var(--{color}-9)")
        for key, label, color in spec
    ]


def _summary(title: str, bars: list[ChartBar]) -> str:
    """The chart in words (its accessible name): `Tasks by outcome: 2 succeeded, 1 failed`."""
    return f"{title}: " + ", ".join(f"{bar.value} {bar.label.lower()}" for bar in bars)


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def _cleanup_note(pending: int) -> str:
    if not pending:
        return ""
    return f"{_plural(pending, 'deleted sandbox', 'deleted sandboxes')} awaiting runtime cleanup"


def _retained(detail: ProjectDetail, usage: ProjectUsage) -> None:
    artifacts = usage.artifacts
    retained = byte_size(artifacts.retained_bytes)
    count = _plural(artifacts.retained_content, "artifact")
    detail.retained = f"{retained} in {count}"
    limit = artifacts.max_retained_bytes
    if limit is None:
        detail.retained_limit = "No retained-bytes quota is enforced."
        detail.retained_summary = f"Retained artifact bytes: {retained} in {count}; no quota"
        return
    share = min(artifacts.retained_bytes * 100 / limit, 100) if limit else 100
    detail.retained_width = f"{share:.0f}%"
    detail.retained_limit = f"{share:.0f}% of the {byte_size(limit)} quota"
    detail.retained_summary = (
        f"Retained artifact bytes: {retained} of the {byte_size(limit)} quota ({count})"
    )


def inspect_project(principal: Principal, project_id: str) -> Inspection:
    """Everything the inspector shows, read in one session (recent activity only for a
    role that may read the audit trail)."""
    pid = uuid.UUID(project_id)
    with db_session(principal) as db:
        row = projects.get_project(db, pid)
        usage = project_usage(db, project_id=pid)
        names = {project_id: row.name}
        events = []
        if may(principal, Permission.AUDIT):
            events = audit.list_events(
                db, principal=principal, project_id=pid, filters={"limit": str(RECENT_EVENTS)}
            )
        usable = templates.list_templates(db, project_id=pid)
    template_names = {str(t.id): t.name for t in usable}
    default_id = str(row.default_template_id) if row.default_template_id else ""
    sandbox_counts = usage.sandboxes.model_dump()
    task_counts = usage.execution_tasks.model_dump()
    sandbox_bars = _bars(sandbox_counts, SANDBOX_BARS)
    task_bars = _bars(task_counts, TASK_BARS)
    detail = ProjectDetail(
        id=project_id,
        name=row.name,
        slug=row.slug,
        namespace=row.default_namespace,
        repository_url=row.repository_url,
        default_template_id=default_id,
        default_template=template_names.get(default_id, "None"),
        created_at=row.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        sandboxes_summary=_summary("Sandboxes by status", sandbox_bars),
        cleanup_note=_cleanup_note(usage.sandboxes.cleanup_pending),
        tasks_summary=_summary("Tasks by outcome", task_bars),
        audit_href=f"/audit?project={project_id}",
    )
    _retained(detail, usage)
    detail.live = live_words(usage.live)
    return Inspection(
        detail=detail,
        sandbox_bars=sandbox_bars,
        task_bars=task_bars,
        events=[event_item(event, names) for event in events],
        project_templates=[Choice(str(t.id), t.name) for t in usable if t.project_id],
        global_templates=[Choice(str(t.id), t.name) for t in usable if not t.project_id],
    )


def update_project(principal: Principal, project_id: str, body: dict) -> str:
    data = request_body(ProjectUpdate, body)
    with db_session(principal) as db:
        row = projects.update_project(
            db, principal=principal, project_id=uuid.UUID(project_id), data=data
        )
        return row.name


def delete_project(principal: Principal, project_id: str) -> None:
    """Delete through the service, which refuses while the project still has sandboxes."""
    with db_session(principal) as db:
        projects.delete_project(db, principal=principal, project_id=uuid.UUID(project_id))


# The service's request fields the project forms show, to the forms' field keys.
PROJECT_FIELDS = {
    "name": "name",
    "slug": "slug",
    "defaultNamespace": "namespace",
    "repositoryUrl": "repository",
}


def blocking_sandboxes(exc: ServiceError) -> int:
    """How many sandboxes a refused project delete names (0 when it names none)."""
    count = exc.detail.get("count")
    if isinstance(count, int):
        return count
    return len(exc.detail.get("sandboxIds") or [])


def _sandboxes(count: int) -> str:
    return "1 sandbox is" if count == 1 else f"{count} sandboxes are"


class ProjectsState(rx.State):
    projects: list[ProjectItem] = []
    name: str = ""
    slug: str = ""
    namespace: str = ""
    repository_url: str = ""
    # Once the user types a namespace we stop suggesting one (clearing it resumes).
    namespace_edited: bool = False
    error: str = ""
    error_field: str = ""  # the form field `error` or `edit_error` is about
    notice: str = ""
    # The inspector of the selected project (none selected: the create form shows instead).
    detail: ProjectDetail = ProjectDetail()
    sandbox_bars: list[ChartBar] = []
    task_bars: list[ChartBar] = []
    recent_events: list[EventItem] = []
    inspector_error: str = ""
    blocking_count: int = 0  # sandboxes in the way of the refused delete
    # The edit dialog.
    edit_open: bool = False
    edit_name: str = ""
    edit_namespace: str = ""
    edit_repository: str = ""
    edit_template: str = NO_TEMPLATE
    edit_error: str = ""
    saving: bool = False
    creating: bool = False
    project_templates: list[Choice] = []
    global_templates: list[Choice] = []
    no_template: list[Choice] = [Choice(NO_TEMPLATE, "No default template")]

    @rx.var
    def selected_id(self) -> str:
        return self.detail.id

    @rx.var
    def blocking_href(self) -> str:
        """The sandboxes list filtered to the project whose delete they block."""
        return f"/sandboxes?project={self.detail.id}"

    @rx.event
    async def load(self):
        """Open the page; `/projects?project=<id>` (the audit page links here) inspects it."""
        self.error = self.notice = ""
        self.projects = await in_thread(list_projects, await acting(self))
        wanted = self.router.url.query_parameters.get("project") or self.detail.id
        if any(p.id == wanted for p in self.projects):
            await self._inspect(wanted)
        else:
            self._close_inspector()

    @rx.event
    async def inspect(self, project_id: str):
        self.inspector_error = self.error = self.notice = ""
        self.blocking_count = 0
        await self._inspect(project_id)

    @rx.event
    def close_inspector(self):
        self._close_inspector()

    def _close_inspector(self):
        self.detail = ProjectDetail()
        self.sandbox_bars, self.task_bars, self.recent_events = [], [], []
        self.inspector_error = ""
        self.blocking_count = 0

    async def _inspect(self, project_id: str):
        principal = await acting(self)
        try:
            found = await in_thread(inspect_project, principal, project_id)
        except ServiceError as exc:  # e.g. deleted meanwhile: say so where the form is
            self._close_inspector()
            self.error = f"Cannot show that project: {exc.message}."
            self.projects = await in_thread(list_projects, principal)
            return
        self.detail = found.detail
        self.sandbox_bars, self.task_bars = found.sandbox_bars, found.task_bars
        self.recent_events = found.events
        self.project_templates = found.project_templates
        self.global_templates = found.global_templates

    # -- edit ------------------------------------------------------------------------------

    @rx.event
    def set_edit_open(self, is_open: bool):
        self.edit_open = is_open
        self.edit_error = ""
        if is_open:
            self.edit_name = self.detail.name
            self.edit_namespace = self.detail.namespace
            self.edit_repository = self.detail.repository_url
            self.edit_template = self.detail.default_template_id or NO_TEMPLATE

    @rx.event
    def set_edit_name(self, value: str):
        self.edit_name = value
        self._edit_changed()

    @rx.event
    def set_edit_namespace(self, value: str):
        self.edit_namespace = value
        self._edit_changed()

    @rx.event
    def set_edit_repository(self, value: str):
        self.edit_repository = value
        self._edit_changed()

    @rx.event
    def set_edit_template(self, value: str):
        self.edit_template = value
        self._edit_changed()

    def _edit_changed(self):
        self.edit_error = self.error_field = ""

    @rx.event
    async def save(self, _form: dict | None = None):
        body = {
            "name": self.edit_name,
            "defaultNamespace": self.edit_namespace,
            "repositoryUrl": self.edit_repository.strip(),
            "defaultTemplateId": None if self.edit_template == NO_TEMPLATE else self.edit_template,
        }
        principal = await acting(self)  # before busy: a failure here leaves nothing busy
        self.saving = True
        yield
        call = in_thread(update_project, principal, self.detail.id, body)
        saved = await attempt(
            self,
            call,
            error="edit_error",
            clear=("notice",),
            busy="saving",
            fields=PROJECT_FIELDS,
        )
        if not saved:
            return
        name = saved.value
        self.edit_open = False
        self.projects = await in_thread(list_projects, principal)
        await self._inspect(self.detail.id)
        self.error, self.notice = "", f"Saved project {name}."

    # -- delete ----------------------------------------------------------------------------

    @rx.event
    async def delete(self):
        name = self.detail.name
        principal = await acting(self)
        call = in_thread(delete_project, principal, self.detail.id)
        self.blocking_count = 0
        deleted = await attempt(
            self, call, error="inspector_error", failed=self._delete_refusal, busy=None
        )
        if not deleted:
            return
        self._close_inspector()
        self.projects = await in_thread(list_projects, principal)
        self.error, self.notice = "", f"Deleted project {name}."

    def _delete_refusal(self, exc: ServiceError) -> str:
        self.blocking_count = blocking_sandboxes(exc)
        if not self.blocking_count:
            return refusal(exc)
        return f"{_sandboxes(self.blocking_count)} in the way: {refusal(exc)}."

    @rx.event
    def set_name(self, value: str):
        self.name = value
        self._edited()

    @rx.event
    def set_slug(self, value: str):
        self.slug = value
        self._edited()

    @rx.event
    def set_namespace(self, value: str):
        self.namespace = value
        self.namespace_edited = bool(value.strip())
        self._edited()

    @rx.event
    def set_repository_url(self, value: str):
        self.repository_url = value
        self.error = self.notice = self.error_field = ""

    def _edited(self):
        """Any edit clears stale messages and refreshes the `mbox-<slug>` suggestion."""
        self.error = self.notice = self.error_field = ""
        if not self.namespace_edited:
            slug = slugify(self.slug.strip() or self.name)
            self.namespace = f"mbox-{slug}" if slug else ""

    @rx.event
    async def create(self, _form: dict | None = None):
        body = {
            "name": self.name,
            "defaultNamespace": self.namespace,
            "slug": self.slug.strip() or None,
            "repositoryUrl": self.repository_url.strip() or None,
        }
        principal = await acting(self)
        made = await attempt(
            self,
            in_thread(create_project, principal, body),
            busy="creating",
            fields=PROJECT_FIELDS,
        )
        if not made:
            return
        name = made.value
        self._clear_form()
        self.projects = await in_thread(list_projects, principal)
        self.notice = f"Created project {name}."

    def _clear_form(self):
        self.name = self.slug = self.namespace = self.repository_url = ""
        self.error = self.notice = ""
        self.namespace_edited = False
