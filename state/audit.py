"""Audit page state: the global feed, its filters, "Load more" and one event's details.

`/audit?project=<id>` opens the feed filtered to a project (the projects page links here).
The event rows are shared with the projects page's recent activity.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import uuid
from urllib.parse import urlencode

import reflex as rx

from backend.audit import service as audit
from backend.audit.models import AuditEventRow
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.projects import service as projects
from backend.tasks import service as tasks
from state.base import (
    Choice,
    acting,
    attempt,
    db_session,
    form_field,
    in_thread,
    may,
    refusal,
    services,
)

ALL_PROJECTS = "all"  # the project filter's "no filter" value (a select item cannot be "")
PAGE_SIZE = 50
# The filter fields (the service's names); the project is a select, the rest text inputs.
FILTERS = (
    "action",
    "resourceType",
    "actor",
    "source",
    "requestId",
    "operation",
    "since",
    "until",
)


@dataclasses.dataclass
class EventField:
    label: str
    value: str


@dataclasses.dataclass
class EventItem:
    """One audit event, formatted for a row and for the detail dialog."""

    id: str
    action: str
    subject: str
    resource_type: str
    actor_source: str
    request_id: str
    time: str
    created_at: str
    fields: list[EventField]
    metadata_json: str
    project_href: str = ""  # the project's page, while the project exists
    subject_href: str = ""  # the sandbox the subject is, or belongs to


# How long a task's command may be in a row (the whole of it is the row's title).
COMMAND_CHARS = 80


def _meta(row: AuditEventRow) -> dict:
    return row.meta if isinstance(row.meta, dict) else {}


def _subject(row: AuditEventRow, commands: dict[str, str]) -> tuple[str, str]:
    """The subject in words and the sandbox page it belongs to: a task by its command, a
    preview link by its port (their rows have no name, only an id)."""
    meta = _meta(row)
    sandbox_id = str(meta.get("sandboxId") or "")
    resource_id = str(row.resource_id or "")
    if row.resource_type == "sandbox" and resource_id:
        sandbox_id = resource_id
    href = f"/sandboxes/{sandbox_id}" if sandbox_id else ""
    if row.resource_type == "execution-task":
        command = commands.get(resource_id)
        return (f"Task: {command}" if command else f"Task {resource_id[:8]}"), href
    if row.resource_type == "preview-link":
        port, label = meta.get("port"), str(meta.get("label") or "")
        words = f"Preview link to port {port}" if port else "Preview link"
        return words + (f" ({label})" if label else ""), href
    return row.resource_name or resource_id, href


def task_commands(principal: Principal, rows: list[AuditEventRow]) -> dict[str, str]:
    """The commands of the tasks the events are about (for a role that may read tasks;
    a deleted task has none), each cut to COMMAND_CHARS."""
    if not may(principal, Permission.READ):
        return {}
    ids = {str(r.resource_id) for r in rows if r.resource_type == "execution-task"}
    found = {}
    with db_session(principal) as db:
        for task_id in ids - {"None"}:
            try:
                command = shlex.join(tasks.get_task(db, uuid.UUID(task_id)).command)
            except (ServiceError, ValueError):
                continue
            found[task_id] = command if len(command) <= COMMAND_CHARS else command[:79] + "…"
    return found


def event_item(
    row: AuditEventRow, project_names: dict[str, str], commands: dict[str, str] | None = None
) -> EventItem:
    project_id = str(row.project_id) if row.project_id else ""
    actor_source = " · ".join(part for part in (row.actor, row.source) if part) or "—"
    created_at = row.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    fields = [
        ("Action", row.action),
        ("Time", created_at),
        ("Resource type", row.resource_type),
        ("Resource name", row.resource_name),
        ("Resource ID", str(row.resource_id or "")),
        ("Project", project_names.get(project_id, project_id)),
        ("Actor", row.actor),
        ("Source", row.source),
        ("Principal", row.principal),
        ("Request ID", row.request_id),
        ("Operation", row.operation),
        ("Event ID", str(row.id)),
    ]
    subject, subject_href = _subject(row, commands or {})
    return EventItem(
        id=str(row.id),
        action=row.action,
        subject=subject,
        resource_type=row.resource_type,
        actor_source=actor_source,
        request_id=row.request_id,
        time=row.created_at.strftime("%b %d, %H:%M:%S"),
        created_at=created_at,
        fields=[EventField(label, value or "—") for label, value in fields],
        metadata_json=json.dumps(row.meta or {}, indent=2, sort_keys=True, default=str),
        project_href=f"/projects?project={project_id}" if project_id in project_names else "",
        subject_href=subject_href,
    )


@dataclasses.dataclass
class Feed:
    events: list[EventItem]
    projects: list[Choice]
    error: str = ""
    error_field: str = ""  # the filter the error is about


def read_feed(principal: Principal, filters: dict[str, str | None]) -> Feed:
    """Events matching `filters`, or the service's word on why the filters are wrong; and
    the projects to filter by."""
    with db_session(principal) as db:
        names = {str(p.id): p.name for p in projects.list_projects(db)}
        choices = [Choice(ALL_PROJECTS, "All projects")]
        choices += [Choice(pid, name) for pid, name in names.items()]
        try:
            rows = audit.list_events(db, principal=principal, filters=filters)
        except ServiceError as exc:
            return Feed([], choices, refusal(exc), form_field(exc, FILTER_FIELDS))
    commands = task_commands(principal, rows)
    return Feed([event_item(row, names, commands) for row in rows], choices)


@dataclasses.dataclass
class Chain:
    """The audit chain's verification: verified | broken | unavailable, and in words."""

    status: str = ""
    words: str = ""


def check_chain(principal: Principal) -> Chain:
    """Walk the hash chain (from the latest retention checkpoint): intact, or where not."""
    try:
        with db_session(principal) as db:
            report = audit.verify_chain(db, principal=principal, settings=services().settings)
    except ServiceError as exc:
        return Chain("unavailable", f"Cannot verify the chain: {refusal(exc)}")
    if report.verified:
        span = f" (seq {report.first_seq} to {report.last_seq})" if report.checked_events else ""
        return Chain("verified", f"Chain intact: {report.checked_events} events verified{span}.")
    broken = report.broken
    where = f" at seq {broken.seq}" if broken and broken.seq is not None else ""
    return Chain("broken", f"Chain broken{where}: {broken.message if broken else 'unknown'}.")


NO_EVENT = EventItem("", "", "", "", "", "", "", "", [], "{}")


def _blank_filters() -> dict[str, str]:
    return dict.fromkeys(FILTERS, "")


# The service's query fields to the filter form's (the text filters keep their names).
FILTER_FIELDS = {name: name for name in FILTERS} | {"projectId": "project"}


def feed_link(filters: dict[str, str], project: str) -> str:
    """The feed's address with its filters (reloaded or shared, it shows the same)."""
    asked = {name: value.strip() for name, value in filters.items() if value.strip()}
    if project != ALL_PROJECTS:
        asked["project"] = project
    return "/audit" + (f"?{urlencode(asked)}" if asked else "")


class AuditState(rx.State):
    events: list[EventItem] = []
    projects: list[Choice] = []
    filters: dict[str, str] = _blank_filters()
    project: str = ALL_PROJECTS
    limit: int = PAGE_SIZE
    error: str = ""
    error_field: str = ""  # the filter `error` is about
    loading: bool = False
    # The event shown in the detail dialog (open while `detail.id` is set).
    detail: EventItem = NO_EVENT
    chain: Chain = Chain()
    verifying: bool = False

    @rx.var
    def has_more(self) -> bool:
        """A full page came back: there may be older events."""
        return len(self.events) == self.limit and self.limit < audit.MAX_LIMIT

    @rx.var
    def capped(self) -> bool:
        return len(self.events) == audit.MAX_LIMIT

    @rx.var
    def detail_open(self) -> bool:
        return self.detail.id != ""

    @rx.event
    async def load(self):
        """Open the page: filters from the URL (`?project=<id>&action=...`, the filters'
        names), else the unfiltered feed."""
        asked = self.router.url.query_parameters
        self.filters = {name: str(asked.get(name, "")) for name in FILTERS}
        self.project = asked.get("project") or ALL_PROJECTS
        self.detail = NO_EVENT
        self.limit = PAGE_SIZE
        await self._refresh()
        return AuditState.verify_chain

    @rx.event
    async def verify_chain(self):
        """Check the chain now (a walk over the events: after the feed has shown)."""
        self.verifying = True
        yield
        try:
            self.chain = await in_thread(check_chain, await acting(self))
        finally:
            self.verifying = False

    @rx.event
    def set_filter(self, name: str, value: str):
        self.filters = {**self.filters, name: value}

    @rx.event
    def set_project(self, value: str):
        self.project = value

    @rx.event
    async def apply(self, _form: dict | None = None):
        self.limit = PAGE_SIZE
        await self._refresh()
        return self._show_filters()

    @rx.event
    async def clear(self):
        self.filters = _blank_filters()
        self.project = ALL_PROJECTS
        self.limit = PAGE_SIZE
        await self._refresh()
        return self._show_filters()

    def _show_filters(self) -> rx.event.EventSpec:
        """Put the applied filters in the address bar (no navigation)."""
        link = json.dumps(feed_link(self.filters, self.project))
        return rx.call_script(f"window.history.replaceState(window.history.state, '', {link})")

    @rx.event
    async def load_more(self):
        self.limit = min(self.limit + PAGE_SIZE, audit.MAX_LIMIT)
        await self._refresh()

    @rx.event
    def open_event(self, event_id: str):
        self.detail = next((e for e in self.events if e.id == event_id), NO_EVENT)

    @rx.event
    def set_detail_open(self, is_open: bool):
        if not is_open:
            self.detail = NO_EVENT

    async def _refresh(self):
        query: dict[str, str | None] = {name: value.strip() for name, value in self.filters.items()}
        query["projectId"] = "" if self.project == ALL_PROJECTS else self.project
        query["limit"] = str(self.limit)
        read = await attempt(
            self, in_thread(read_feed, await acting(self), query), busy="loading", clear=()
        )
        if not read:  # a failure beyond the filters' words (attempt said it)
            self.events = []
            return
        feed: Feed = read.value
        self.events, self.projects, self.error = feed.events, feed.projects, feed.error
        self.error_field = feed.error_field
