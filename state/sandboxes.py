"""Sandboxes page state: one page of sandboxes at a time (filtered and sorted on the
server), bulk stop and delete, and the launch dialog with its plan and preflight.

The page is live without polling: `watch` sleeps on the change notifications of requests
("sandboxes") and of the runtime ("sandbox-status") and then re-reads only the page shown.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from urllib.parse import urlencode

import reflex as rx
from sqlmodel import Session

from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.metrics import service as metrics
from backend.metrics.models import SandboxMetricSample
from backend.projects import service as projects
from backend.projects.models import ProjectRow
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxCreate, SandboxRow
from backend.templates import service as templates
from backend.templates.models import TemplateRow
from backend.validation import request_body, resolve_slug
from state.base import (
    Choice,
    TabPresence,
    attempt,
    change_rounds,
    db_session,
    in_thread,
    principal_of_cookie,
    refusal,
    sign_in_cookie,
)
from state.base import acting as principal_of_tab
from state.format import parse_id, status_words, timestamp
from state.governance import where_denied, where_set
from state.sandbox_metrics import UNKNOWN, usage_words
from state.templates import STATUSES, validation_status

ALL = "all"  # a filter's "no filter" value (a Radix select item cannot be "")
ALL_PROJECTS = ALL
PAGE_SIZE = 50
# A burst of changes (a bulk stop, a reconciler pass) becomes one re-read.
CHANGE_DEBOUNCE_SECONDS = 0.1
# Changes made by another replica are not announced here: re-read at least this often.
FALLBACK_REFRESH_SECONDS = 30.0
ROW_STATUSES = ("pending", "running", "stopped", "failed")
EN_DASH = "\u2013"


@dataclasses.dataclass
class SandboxItem:
    """One table row, already formatted for display."""

    id: str
    href: str
    name: str
    slug: str
    project_id: str
    project_name: str
    template_name: str
    status: str
    status_words: str
    created: str
    created_at: str
    usage: str = UNKNOWN  # the latest live sample, short
    usage_full: str = ""  # and whole (the cell's title)


@dataclasses.dataclass
class TemplateChoices:
    project: list[Choice]
    shared: list[Choice]
    default_id: str
    slugs: dict[str, str]


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """What the list shows: the filters (ALL when unused) and the first row's offset."""

    project: str = ALL
    status: str = ALL
    template: str = ALL
    search: str = ""
    offset: int = 0


@dataclasses.dataclass
class LaunchPlanView:
    """What a launch will create, as the service resolved it, and why it would be refused."""

    template_name: str = ""
    image: str = ""
    ports: str = ""
    size: str = ""
    validation: str = ""
    namespace: str = ""
    service_account: str = ""
    blockers: list[str] = dataclasses.field(default_factory=list)
    # Where the limits behind the blockers are set (a quota or the launch policy).
    fix_words: str = ""
    fix_href: str = ""


def _item(
    row: SandboxRow,
    project_names: dict,
    template_names: dict,
    samples: dict[uuid.UUID, SandboxMetricSample],
) -> SandboxItem:
    usage, usage_full = usage_words(samples.get(row.id))
    return SandboxItem(
        id=str(row.id),
        href=f"/sandboxes/{row.id}",
        name=row.name,
        slug=row.slug,
        project_id=str(row.project_id),
        project_name=project_names.get(row.project_id, "—"),
        template_name=template_names.get(row.template_id, "Deleted template"),
        status=row.status,
        status_words=status_words(row.status, row.status_reason, row.status_message),
        created=row.created_at.strftime("%b %d, %H:%M"),
        created_at=timestamp(row.created_at),
        usage=usage,
        usage_full=usage_full,
    )


def read_page(principal: Principal, query: ListQuery) -> tuple[list[SandboxItem], int, int]:
    """The page of sandboxes `query` asks for (newest first), how many match in all, and
    the page's offset: the last page instead, when deletes emptied the one asked for."""
    with db_session(principal) as db:
        rows, total = _page_rows(db, query)
        if not rows and query.offset > 0:
            query = dataclasses.replace(query, offset=(max(total, 1) - 1) // PAGE_SIZE * PAGE_SIZE)
            rows, total = _page_rows(db, query)
        project_names = {p.id: p.name for p in projects.list_projects(db)}
        template_names = {t.id: t.name for t in templates.list_templates(db)}
        samples = metrics.latest_samples(
            db, principal=principal, sandbox_ids=[row.id for row in rows]
        )
    items = [_item(row, project_names, template_names, samples) for row in rows]
    return items, total, query.offset


def _page_rows(db: Session, query: ListQuery) -> tuple[list[SandboxRow], int]:
    return sandboxes.page_sandboxes(
        db,
        project_id=parse_id(query.project),
        status=query.status if query.status in ROW_STATUSES else None,
        template_id=parse_id(query.template),
        search=query.search,
        offset=query.offset,
        limit=PAGE_SIZE,
    )


def read_choices(principal: Principal) -> tuple[list[Choice], list[Choice]]:
    """The projects and the templates to filter and launch by."""
    with db_session(principal) as db:
        project_rows: list[ProjectRow] = projects.list_projects(db)
        template_rows: list[TemplateRow] = templates.list_templates(db)
    project_names = {p.id: p.name for p in project_rows}
    return (
        [Choice(str(p.id), p.name) for p in project_rows],
        [Choice(str(t.id), _template_label(t, project_names)) for t in template_rows],
    )


def _template_label(template: TemplateRow, project_names: dict) -> str:
    if template.project_id is None:
        return template.name
    return f"{template.name} ({project_names.get(template.project_id, 'other project')})"


def read_templates(principal: Principal, project_id: str) -> TemplateChoices:
    """The templates a project may launch from: its own and the global ones."""
    parsed = parse_id(project_id)
    if parsed is None:
        return TemplateChoices([], [], "", {})
    with db_session(principal) as db:
        project = projects.get_project(db, parsed)
        rows = templates.list_templates(db, project_id=parsed)
    default_id = str(project.default_template_id) if project.default_template_id else ""
    return TemplateChoices(
        project=[Choice(str(t.id), t.name) for t in rows if t.project_id is not None],
        shared=[Choice(str(t.id), t.name) for t in rows if t.project_id is None],
        default_id=default_id,
        slugs={str(t.id): t.slug for t in rows},
    )


def read_plan(principal: Principal, project_id: str, template_id: str) -> LaunchPlanView:
    """The launch as the service would make it (the same resolution and the same checks)."""
    parsed = parse_id(project_id)
    if parsed is None or not template_id:
        return LaunchPlanView()
    with db_session(principal) as db:
        plan = sandboxes.plan_launch(db, project_id=parsed, template_id=template_id)
    template = plan.template
    fix_words, fix_href = where_set(plan.rules, project_id)
    return LaunchPlanView(
        template_name=template.name,
        image=template.image,
        ports=_ports_words(template.exposed_ports),
        size=_size_words(template),
        validation=STATUSES[validation_status(template)],
        namespace=plan.namespace,
        service_account=plan.service_account,
        blockers=plan.blockers,
        fix_words=fix_words,
        fix_href=fix_href,
    )


def _ports_words(ports: list[dict]) -> str:
    """`web :3000, api :8080`, or `None`."""
    return ", ".join(f"{p['name']} :{p['port']}" for p in ports) or "None"


def _size_words(template: TemplateRow) -> str:
    """`250m CPU · 512Mi memory · 2Gi workspace`, or what is missing in words."""
    parts = [
        f"{template.cpu_request} CPU" if template.cpu_request else "",
        f"{template.memory_request} memory" if template.memory_request else "",
        f"{template.storage_request} workspace" if template.storage_request else "",
    ]
    return " · ".join(part for part in parts if part) or "No requests declared"


def create_sandbox(principal: Principal, body: dict) -> str:
    """Launch through the service (policy, quota and audit live there); return the new id."""
    data = request_body(SandboxCreate, body)
    with db_session(principal) as db:
        return str(sandboxes.create_sandbox(db, principal=principal, data=data).id)


ACTIONS = {
    "start": sandboxes.start_sandbox,
    "stop": sandboxes.stop_sandbox,
    "delete": sandboxes.delete_sandbox,
}


@dataclasses.dataclass
class Acted:
    """What a bulk action left undone: the failures in words, and where the quota or launch
    policy that refused one is set (words, href; "" when none did)."""

    failures: list[str]
    fix_words: str = ""
    fix_href: str = ""


def act_on_each(principal: Principal, action: str, targets: list[tuple[str, str, str]]) -> Acted:
    """Start, stop or delete each (id, name, project id) through the service, each in its
    own transaction so one refusal spares the others."""
    acted = Acted([])
    for sandbox_id, name, project_id in targets:
        try:
            with db_session(principal) as db:
                ACTIONS[action](db, principal=principal, sandbox_id=uuid.UUID(sandbox_id))
        except ServiceError as exc:
            acted.failures.append(f"{name}: {refusal(exc)}")
            words, href = where_denied(exc, project_id)
            if href and not acted.fix_href:
                acted.fix_words, acted.fix_href = words, href
    return acted


def template_project(principal: Principal, template_id: str) -> str:
    """The project a template belongs to ("" for a global one, or one not found)."""
    parsed = parse_id(template_id)
    if parsed is None:
        return ""
    with db_session(principal) as db:
        try:
            row = templates.get_template(db, parsed)
        except ServiceError:
            return ""
    return str(row.project_id) if row.project_id else ""


def list_link(query: ListQuery) -> str:
    """The list's address with its filters (reloaded or shared, it shows the same)."""
    asked = {
        "project": query.project,
        "status": query.status,
        "template": query.template,
        "q": query.search.strip(),
    }
    kept = {key: value for key, value in asked.items() if value and value != ALL}
    return "/sandboxes" + (f"?{urlencode(kept)}" if kept else "")


def _sandboxes(n: int) -> str:
    return "1 sandbox" if n == 1 else f"{n} sandboxes"


class SandboxesState(rx.State):
    # The list: one page of rows and what was asked for.
    sandboxes: list[SandboxItem] = []
    total: int = 0
    offset: int = 0
    projects: list[Choice] = []
    all_templates: list[Choice] = []
    project_filter: str = ALL
    status_filter: str = ALL
    template_filter: str = ALL
    search: str = ""
    selected: list[str] = []
    acting: bool = False  # a start, stop or delete is under way
    error: str = ""
    notice: str = ""
    # Where the quota or launch policy that refused an action is set (words, href).
    fix_words: str = ""
    fix_href: str = ""
    # A message another page leaves for this one (e.g. "Deleted sandbox x.").
    flash: str = ""
    # The launch dialog.
    launching: bool = False
    launch_busy: bool = False
    project_id: str = ""
    template_id: str = ""
    project_templates: list[Choice] = []
    global_templates: list[Choice] = []
    default_template_id: str = ""
    name: str = ""
    suggested_name: str = ""
    plan: LaunchPlanView = LaunchPlanView()
    launch_error: str = ""
    error_field: str = ""  # the launch field `launch_error` is about
    _template_slugs: dict[str, str] = {}
    _watchers: int = 0

    # -- derived views ---------------------------------------------------------------------

    @rx.var
    def range_words(self) -> str:
        """`1\u201350 of 1,234` (an en dash, as typeset), `0 of 0`."""
        if not self.sandboxes:
            return f"0 of {self.total:,}"
        last = self.offset + len(self.sandboxes)
        return f"{self.offset + 1:,}{EN_DASH}{last:,} of {self.total:,}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + len(self.sandboxes) < self.total

    @rx.var
    def filtered(self) -> bool:
        filters = (self.project_filter, self.status_filter, self.template_filter)
        return bool(self.search.strip()) or any(value != ALL for value in filters)

    @rx.var
    def selected_items(self) -> list[SandboxItem]:
        chosen = set(self.selected)
        return [s for s in self.sandboxes if s.id in chosen]

    @rx.var
    def page_selected(self) -> bool:
        return bool(self.sandboxes) and len(self.selected) == len(self.sandboxes)

    @rx.var
    def selection_words(self) -> str:
        return f"{len(self.selected)} selected" if self.selected else "None selected"

    @rx.var
    def project_choices(self) -> list[Choice]:
        return [Choice(ALL, "All projects"), *self.projects]

    @rx.var
    def status_choices(self) -> list[Choice]:
        return [Choice(ALL, "All statuses")] + [Choice(s, s.capitalize()) for s in ROW_STATUSES]

    @rx.var
    def template_choices(self) -> list[Choice]:
        return [Choice(ALL, "All templates"), *self.all_templates]

    @rx.var
    def slug(self) -> str:
        """The slug the launch will use (derived from the name as the service derives it)."""
        return resolve_slug(None, self.name.strip() or self.suggested_name) or "—"

    @rx.var
    def name_hint(self) -> str:
        if not self.suggested_name:
            return "Optional."
        return "Optional: blank uses the suggestion."

    @rx.var
    def blocked(self) -> bool:
        return not self.project_id or not self.template_id or bool(self.plan.blockers)

    # -- the list --------------------------------------------------------------------------

    def _query(self) -> ListQuery:
        return ListQuery(
            self.project_filter, self.status_filter, self.template_filter, self.search, self.offset
        )

    def _show(self, items: list[SandboxItem], total: int, offset: int) -> None:
        if items != self.sandboxes:
            self.sandboxes = items
        self.total, self.offset = total, offset
        shown = {item.id for item in items}
        if any(sandbox_id not in shown for sandbox_id in self.selected):
            self.selected = [sandbox_id for sandbox_id in self.selected if sandbox_id in shown]

    async def _reload(self, principal: Principal | None = None) -> None:
        principal = principal or await principal_of_tab(self)
        self._show(*await in_thread(read_page, principal, self._query()))

    @rx.event
    async def load(self):
        self.error = self.launch_error = ""
        self.launching = False
        self.notice, self.flash = self.flash, ""
        principal = await principal_of_tab(self)
        self.projects, self.all_templates = await in_thread(read_choices, principal)
        self._filters_from_link()
        if self.project_filter not in {c.value for c in self.projects}:
            self.project_filter = ALL
        if self.template_filter not in {c.value for c in self.all_templates}:
            self.template_filter = ALL
        if self.status_filter not in ROW_STATUSES:
            self.status_filter = ALL
        self.selected = []
        await self._reload(principal)
        launch = self.router.url.query_parameters.get("launch", "")
        if launch in {c.value for c in self.all_templates}:
            await self._launch_from(principal, launch)
            return [self._show_filters(), SandboxesState.watch]
        return SandboxesState.watch

    def _filters_from_link(self) -> None:
        """The filters are the address's: /sandboxes?project=<id>&status=running (also
        `template` and `q`, the search); none given: none applied."""
        asked = self.router.url.query_parameters
        self.project_filter = asked.get("project", ALL)
        self.status_filter = asked.get("status", ALL)
        self.template_filter = asked.get("template", ALL)
        self.search = asked.get("q", "")
        self.offset = 0

    def _show_filters(self) -> rx.event.EventSpec:
        """Put the filters in the address bar (no navigation: nothing reloads)."""
        link = json.dumps(list_link(self._query()))
        return rx.call_script(f"window.history.replaceState(window.history.state, '', {link})")

    async def _launch_from(self, principal: Principal, template_id: str) -> None:
        """Open the launch dialog on `template_id` (the templates page's Launch), in its
        project, else in the project the list shows or the first."""
        owner = await in_thread(template_project, principal, template_id)
        known = {c.value for c in self.projects}
        preferred = self.project_filter if self.project_filter in known else ""
        self.project_id = owner or preferred or (self.projects[0].value if self.projects else "")
        self.template_id = template_id
        self.launching, self.launch_error, self.error_field = True, "", ""
        await self._load_templates()

    @rx.event(background=True)
    async def watch(self):
        """Re-read the page shown whenever a sandbox changes, while this page is open.
        Leaving the page cancels this task (a navigation supersedes the page-load chain it
        belongs to) and unsubscribes; the ticket also ends an older loop on a reload."""
        async with self:
            self._watchers += 1
            ticket = self._watchers
        presence = TabPresence()
        feed = change_rounds(
            "sandboxes",
            "sandbox-status",
            every=FALLBACK_REFRESH_SECONDS,
            settle=CHANGE_DEBOUNCE_SECONDS,
        )
        async with feed as rounds:
            async for _ in rounds:
                async with self:
                    if not self._watching(ticket) or presence.gone(self):
                        return
                    query, plan_for = self._query(), (self.project_id, self.template_id)
                    launching = self.launching
                    cookie = sign_in_cookie(self.router.headers.cookie)
                principal = await in_thread(principal_of_cookie, cookie)
                found = await in_thread(read_page, principal, query)
                # The quota counts active sandboxes: an open launch plan may change too.
                plan = await self._read_plan(principal, *plan_for) if launching else None
                async with self:
                    if not self._watching(ticket) or self._query() != query:
                        continue
                    self._show(*found)
                    if plan is not None and (self.project_id, self.template_id) == plan_for:
                        self.plan = plan

    def _watching(self, ticket: int) -> bool:
        return ticket == self._watchers and self.router.url.path.rstrip("/") == "/sandboxes"

    async def _filter(self):
        self.offset = 0
        self.selected = []
        self.error = self.notice = self.fix_words = self.fix_href = ""
        await self._reload()
        return self._show_filters()

    @rx.event
    async def set_project_filter(self, value: str):
        self.project_filter = value
        return await self._filter()

    @rx.event
    async def set_status_filter(self, value: str):
        self.status_filter = value
        return await self._filter()

    @rx.event
    async def set_template_filter(self, value: str):
        self.template_filter = value
        return await self._filter()

    @rx.event
    async def set_search(self, value: str):
        self.search = value
        return await self._filter()

    @rx.event
    async def clear_filters(self):
        self.project_filter = self.status_filter = self.template_filter = ALL
        self.search = ""
        return await self._filter()

    @rx.event
    async def previous_page(self):
        self.offset = max(0, self.offset - PAGE_SIZE)
        self.selected = []
        await self._reload()

    @rx.event
    async def next_page(self):
        if self.offset + PAGE_SIZE < self.total:
            self.offset += PAGE_SIZE
            self.selected = []
            await self._reload()

    # -- selection and actions -------------------------------------------------------------

    @rx.event
    def toggle(self, sandbox_id: str, checked: bool):
        rest = [s for s in self.selected if s != sandbox_id]
        self.selected = [*rest, sandbox_id] if checked else rest

    @rx.event
    def toggle_page(self, checked: bool):
        self.selected = [s.id for s in self.sandboxes] if checked else []

    @rx.event
    async def act(self, action: str, sandbox_id: str, name: str):
        """One row's Start or Stop."""
        project_id = next((s.project_id for s in self.sandboxes if s.id == sandbox_id), "")
        async for update in self._act_on(action, [(sandbox_id, name, project_id)]):
            yield update

    @rx.event
    async def stop_selected(self):
        async for update in self._act_on("stop", self._selected_targets()):
            yield update

    @rx.event
    async def delete_selected(self):
        async for update in self._act_on("delete", self._selected_targets()):
            yield update

    def _selected_targets(self) -> list[tuple[str, str, str]]:
        return [(s.id, s.name, s.project_id) for s in self.selected_items]

    async def _act_on(self, action: str, targets: list[tuple[str, str, str]]):
        """Act on each target, showing the work in progress (`acting`) meanwhile."""
        self.error = self.notice = self.fix_words = self.fix_href = ""
        if action not in ACTIONS or not targets or self.acting:
            return
        self.acting = True
        yield None
        principal = await principal_of_tab(self)
        try:
            acted = await in_thread(act_on_each, principal, action, targets)
        finally:
            self.acting = False
        failures = acted.failures
        self.fix_words, self.fix_href = acted.fix_words, acted.fix_href
        done = len(targets) - len(failures)
        past = {"start": "Started", "stop": "Stopped", "delete": "Deleted"}[action]
        if done:
            what = targets[0][1] if len(targets) == 1 else _sandboxes(done)
            self.notice = f"{past} {what}."
        if failures:
            self.error = f"Could not {action} " + "; ".join(failures)
        self.selected = []
        await self._reload(principal)

    # -- the launch dialog -----------------------------------------------------------------

    @rx.event
    async def set_launching(self, value: bool):
        self.launching = value
        self.launch_error = self.error_field = ""
        if not value:
            return
        self.notice = self.error = ""  # a new action: the last one's words go
        known = {c.value for c in self.projects}
        if self.project_id not in known:
            preferred = self.project_filter if self.project_filter in known else ""
            self.project_id = preferred or (self.projects[0].value if self.projects else "")
            self.template_id = ""
        await self._load_templates()

    @rx.event
    async def set_project_id(self, value: str):
        self.project_id = value
        self.template_id = ""
        self.launch_error = ""
        await self._load_templates()

    @rx.event
    async def set_template_id(self, value: str):
        self.template_id = value
        self.launch_error = ""
        self._suggest_name()
        await self._refresh_plan()

    @rx.event
    def set_name(self, value: str):
        self.name = value
        self.launch_error = self.error_field = ""

    async def _load_templates(self):
        principal = await principal_of_tab(self)
        try:
            found = await in_thread(read_templates, principal, self.project_id)
        except ServiceError as exc:
            found = TemplateChoices([], [], "", {})
            self.launch_error = exc.message
        self.project_templates, self.global_templates = found.project, found.shared
        self.default_template_id = found.default_id
        self._template_slugs = found.slugs
        if self.template_id not in found.slugs:
            self.template_id = found.default_id
        self._suggest_name()
        await self._refresh_plan(principal)

    async def _read_plan(
        self, principal: Principal, project_id: str, template_id: str
    ) -> LaunchPlanView | None:
        try:
            return await in_thread(read_plan, principal, project_id, template_id)
        except ServiceError:
            return None

    async def _refresh_plan(self, principal: Principal | None = None) -> None:
        principal = principal or await principal_of_tab(self)
        try:
            self.plan = await in_thread(read_plan, principal, self.project_id, self.template_id)
        except ServiceError as exc:
            self.plan = LaunchPlanView()
            self.launch_error = exc.message

    def _suggest_name(self):
        """`<template-slug>-<4 hex>`: short, and unique enough to launch again at once."""
        template_slug = self._template_slugs.get(self.template_id, "")
        self.suggested_name = (
            f"{template_slug[:50]}-{secrets.token_hex(2)}" if template_slug else ""
        )

    @rx.event
    async def create(self, _form: dict | None = None):
        self.launch_error = ""
        if not self.project_id:
            self.launch_error = "Choose a project to launch the sandbox in."
            return
        if not self.template_id:
            self.launch_error = "Choose a template to launch from."
            return
        name = self.name.strip() or self.suggested_name
        body = {"projectId": self.project_id, "templateId": self.template_id, "name": name}
        principal = await principal_of_tab(self)
        made = await attempt(
            self,
            in_thread(create_sandbox, principal, body),
            error="launch_error",
            clear=("notice",),
            busy="launch_busy",
            fields={"name": "name", "slug": "name"},
        )
        if not made:
            await self._refresh_plan(principal)
            return
        sandbox_id = made.value
        self.name = ""
        self.launching = False
        self._suggest_name()
        return rx.redirect(f"/sandboxes/{sandbox_id}")
