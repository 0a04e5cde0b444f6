"""Audit page state: the global feed, its filters, "Load more" and one event's details.

`/audit?project=<id>` opens the feed filtered to a project (the projects page links here).
The event rows are shared with the projects page's recent activity.
"""

from __future__ import annotations

import dataclasses
import json

import reflex as rx

from backend.audit import service as audit
from backend.audit.models import AuditEventRow
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.projects import service as projects
from state.base import Choice, acting, db_session, in_thread, refusal, services

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


def event_item(row: AuditEventRow, project_names: dict[str, str]) -> EventItem:
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
    return EventItem(
        id=str(row.id),
        action=row.action,
        subject=row.resource_name or str(row.resource_id or ""),
        resource_type=row.resource_type,
        actor_source=actor_source,
        request_id=row.request_id,
        time=row.created_at.strftime("%b %d, %H:%M:%S"),
        created_at=created_at,
        fields=[EventField(label, value or "—") for label, value in fields],
        metadata_json=json.dumps(row.meta or {}, indent=2, sort_keys=True, default=str),
        project_href=f"/projects?project={project_id}" if project_id in project_names else "",
    )


@dataclasses.dataclass
class Feed:
    events: list[EventItem]
    projects: list[Choice]
    error: str = ""


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
            return Feed([], choices, refusal(exc))
    return Feed([event_item(row, names) for row in rows], choices)


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


class AuditState(rx.State):
    events: list[EventItem] = []
    projects: list[Choice] = []
    filters: dict[str, str] = _blank_filters()
    project: str = ALL_PROJECTS
    limit: int = PAGE_SIZE
    error: str = ""
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
        """Open the page: filters from the URL (`?project=<id>`), else the unfiltered feed."""
        self.filters = _blank_filters()
        self.project = self.router.url.query_parameters.get("project") or ALL_PROJECTS
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

    @rx.event
    async def clear(self):
        self.filters = _blank_filters()
        self.project = ALL_PROJECTS
        self.limit = PAGE_SIZE
        await self._refresh()

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
        feed = await in_thread(read_feed, await acting(self), query)
        self.events, self.projects, self.error = feed.events, feed.projects, feed.error
