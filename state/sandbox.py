"""Sandbox page state: one sandbox's status, start-up timings, lifetime and actions. Each
tab is a substate of this one (`SandboxTab`) in a module of its own, state/sandbox_<tab>.py:
terminal, preview, tasks, files, artifacts, logs, events, sessions, boundary. The page finds
its tabs among its substates and calls their hooks (reset, read, open, follow the sandbox);
adding a tab needs no edit here. The Terminal tab opens first when the sandbox runs.

Status changes are pushed: `load` (the page's on_load) starts the background `watch`,
which waits on the "sandboxes" and "sandbox-status" change topics (a request changed a
sandbox; the runtime moved one) and re-reads the sandbox shortly after a burst of changes
(debounced). Without a change it wakes every `TICK_SECONDS` anyway: relative times (lease
left) move on, the open tab's content (logs, events...) refreshes, and changes made by
another replica show. Navigating away supersedes the page-load chain the loop belongs to,
which cancels it; the loop also ends when its ticket is stale, the route changed or the
sandbox is gone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any, ClassVar

import reflex as rx

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import utcnow
from backend.errors import NotFound, ServiceError
from backend.projects import service as projects
from backend.sandboxes import lifetime, runtime_access, validation_runs
from backend.sandboxes import service as sandboxes
from backend.sandboxes.lifetime import SandboxRenew
from backend.sandboxes.models import SandboxRow
from backend.tasks import service as task_service
from backend.tasks.models import FINISHED_STATUSES
from backend.templates import service as templates
from backend.templates.models import TemplateRow
from state.base import (
    UNEXPECTED,
    Feedback,
    TabPresence,
    acting,
    attempt,
    change_rounds,
    db_session,
    in_thread,
    may,
    principal_of_cookie,
    refusal,
    sign_in_cookie,
)
from state.format import clock, duration, parse_id, status_words, timestamp
from state.sandbox_metrics import ResourceChart, read_resources
from state.sandboxes import SandboxesState
from state.templates import decide_run

log = logging.getLogger("mbox.console")
STATUS_TOPICS = ("sandboxes", "sandbox-status")
DEBOUNCE_SECONDS = 0.1  # a burst of changes (started, then ready) is read once
TICK_SECONDS = 3.0  # without a change: relative times, the open tab, other replicas


@dataclasses.dataclass
class SandboxView:
    """The sandbox, formatted for display at one moment (relative times move on)."""

    id: str = ""
    name: str = ""
    slug: str = ""
    status: str = ""
    headline: str = ""
    project_name: str = ""
    template_name: str = ""
    namespace: str = ""
    service_account: str = ""
    runtime_ref: str = ""
    created_at: str = ""
    # Start-up: "Ready in 24 ms", "Starting for 1.2 s", or "" before any start.
    startup: str = ""
    lease: str = ""
    lease_detail: str = ""
    idle: str = ""
    can_start: bool = False
    can_stop: bool = False
    can_renew: bool = False
    # A template validation run: the template it tries, and its verdict so far
    # ("testing", "passed", "failed"); both "" for an ordinary sandbox.
    validates: str = ""
    verdict: str = ""


@dataclasses.dataclass
class Phase:
    """One step of the start-up timeline: requested, runtime started, ready (or stopped)."""

    label: str
    at: str
    at_full: str
    delta: str


@dataclasses.dataclass
class PortItem:
    name: str
    port: int
    protocol: str


@dataclasses.dataclass
class Snapshot:
    view: SandboxView
    phases: list[Phase]
    ports: list[PortItem]


def _since(start: datetime | None, end: datetime | None) -> str:
    return f"+{duration((end - start).total_seconds())}" if start and end else ""


def _phases(row: SandboxRow) -> list[Phase]:
    requested, started, ready = row.requested_at, row.started_at, row.ready_at
    scheduled = row.scheduled_at
    phases = [Phase("Requested", clock(requested), timestamp(requested), "")]
    if started:
        phases.append(
            Phase("Runtime started", clock(started), timestamp(started), _since(requested, started))
        )
    if scheduled:  # placed on a node (on this host it is the start itself)
        since = _since(started, scheduled)
        phases.append(Phase("Scheduled", clock(scheduled), timestamp(scheduled), since))
    if ready:
        since = _since(scheduled or started, ready)
        phases.append(Phase("Ready", clock(ready), timestamp(ready), since))
    if row.stopped_at and row.status in ("stopped", "failed"):
        since = ready or started or requested
        phases.append(
            Phase(
                row.status.capitalize(),
                clock(row.stopped_at),
                timestamp(row.stopped_at),
                _since(since, row.stopped_at),
            )
        )
    return phases if requested else []


def _startup(row: SandboxRow, now: datetime) -> str:
    if row.ready_at and row.requested_at:
        return f"Ready in {duration((row.ready_at - row.requested_at).total_seconds())}"
    if row.status == "pending" and row.requested_at:
        return f"Starting for {duration((now - row.requested_at).total_seconds())}"
    return ""


def _lease(row: SandboxRow, now: datetime) -> tuple[str, str]:
    """The lease in a headline and a detail line."""
    if row.expires_at is None:
        return "No lease", "Runs until it is stopped or deleted."
    left = (row.expires_at - now).total_seconds()
    at = f"At {timestamp(row.expires_at)}; renewing restarts the lease."
    if left <= 0:
        return "Lease ended", "The sandbox is being deleted."
    return f"Expires in {duration(left)}", at


def _idle(row: SandboxRow, template: TemplateRow | None, now: datetime) -> str:
    seconds = template.idle_timeout_seconds if template else None
    if not seconds:
        return "No idle timeout."
    rule = f"Idle timeout {duration(seconds)}"
    if row.status != "running":
        return f"{rule}: a running sandbox stops after that long without activity."
    last = row.last_activity_at or row.ready_at or row.created_at
    left = (last.timestamp() + seconds) - now.timestamp()
    return f"{rule}: stops in {duration(left)} unless there is activity."


def _headline(row: SandboxRow, now: datetime) -> str:
    """The status in words, with how long it has been running when there is nothing else."""
    words = status_words(row.status, row.status_reason, row.status_message)
    if row.status == "running" and row.ready_at and words == "Running":
        return f"Running for {duration((now - row.ready_at).total_seconds())}"
    return words


def _runtime_ref(ref: dict[str, Any] | None) -> str:
    if not ref:
        return ""
    where = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
    return f"{ref.get('adapter', '')} {ref.get('kind', '')} {where}"


def read_sandbox(principal: Principal, sandbox_id: str) -> Snapshot | None:
    """The sandbox as the page shows it, or None when it does not exist (or was deleted)."""
    parsed = parse_id(sandbox_id)
    if parsed is None:
        return None
    with db_session(principal) as db:
        try:
            row = sandboxes.get_sandbox(db, parsed)
        except NotFound:
            return None
        project = projects.get_project(db, row.project_id)
        template = templates.get_template(db, row.template_id) if row.template_id else None
    now = utcnow()
    lease, lease_detail = _lease(row, now)
    view = SandboxView(
        id=str(row.id),
        name=row.name,
        slug=row.slug,
        status=row.status,
        headline=_headline(row, now),
        project_name=project.name,
        template_name=template.name if template else "Deleted template",
        namespace=row.namespace,
        service_account=row.service_account_name,
        runtime_ref=_runtime_ref(row.runtime_ref),
        created_at=timestamp(row.created_at),
        startup=_startup(row, now),
        lease=lease,
        lease_detail=lease_detail,
        idle=_idle(row, template, now),
        can_start=row.status in ("stopped", "failed"),
        can_stop=row.status in ("pending", "running"),
        can_renew=row.expires_at is not None,
        **_validation(row),
    )
    ports = [
        PortItem(p["name"], p["port"], (p.get("protocol") or "TCP").upper()) for p in row.ports
    ]
    return Snapshot(view, _phases(row), ports)


def _validation(row: SandboxRow) -> dict[str, str]:
    """What a validation run tries and its verdict (see backend/sandboxes/validation_runs.py)."""
    meta = row.meta if isinstance(row.meta, dict) else {}
    if meta.get("purpose") != validation_runs.PURPOSE or row.template_id is None:
        return {}
    return {"validates": str(row.template_id), "verdict": meta.get("validationResult") or "testing"}


def failure_words(exc: Exception, what: str) -> str:
    """A failure of a background read in words: a service's refusal as it said it, anything
    else (a bug: logged here) as UNEXPECTED after `what` ("Could not follow the task")."""
    if isinstance(exc, ServiceError):
        return f"{what}: {refusal(exc)}"
    log.exception("%s", what)
    return f"{what}. {UNEXPECTED}"


async def charts_of(principal: Principal, sandbox_id: str) -> tuple[list[ResourceChart], str]:
    """The resource charts and their line; a failure in words in the line."""
    try:
        return await in_thread(read_resources, principal, sandbox_id)
    except Exception as exc:
        return [], failure_words(exc, "Could not read the resource use")


def count_running_tasks(principal: Principal, sandbox_id: str) -> int:
    """The sandbox's tasks that are queued or running (Stop ends them)."""
    with db_session(principal) as db:
        rows = task_service.list_tasks(db, sandbox_id=uuid.UUID(sandbox_id))
    return sum(row.status not in FINISHED_STATUSES for row in rows)


def sandbox_uuid(sandbox_id: str) -> uuid.UUID:
    """The page's sandbox id, parsed (NotFound when it is not one)."""
    parsed = parse_id(sandbox_id)
    if parsed is None:
        raise NotFound()
    return parsed


def runtime_message(exc: ServiceError, what: str) -> str:
    """A runtime read's refusal in words (`what` appear once the sandbox has started)."""
    if exc.message == runtime_access.NO_RUNTIME:
        return f"No runtime yet: {what} appear once the sandbox has started."
    return exc.message


def _call(principal: Principal, fn: Any, sandbox_id: str, **kwargs: Any) -> None:
    """Run one lifecycle service call as the console, in its own session."""
    with db_session(principal) as db:
        fn(db, principal=principal, sandbox_id=uuid.UUID(sandbox_id), **kwargs)


class SandboxState(rx.State):
    """The page: the sandbox, the open tab, the overview's actions and the watcher. Each tab
    is a substate of its own (`SandboxTab`), found through `tab_states()`."""

    view: SandboxView = SandboxView()
    phases: list[Phase] = []
    ports: list[PortItem] = []
    loaded: bool = False
    missing: bool = False
    tab: str = "logs"
    _tab_chosen: bool = False  # the user picked a tab: the page no longer picks one
    error: str = ""
    notice: str = ""
    busy: bool = False
    details_open: bool = False  # the Start-up, Lifetime and Runtime cards (else one line)
    running_tasks: int = 0  # queued or running tasks Stop would end (-1: unknown)
    # Live resource use (read while the details are open): charts, and a line about them.
    resources: list[ResourceChart] = []
    resources_note: str = ""
    _watchers: int = 0
    # What the signed-in role may do here (read at load): drive the sandbox (start, stop,
    # type into terminals, run tasks, change files...), and read its contents.
    can_operate: bool = False
    can_read_content: bool = False

    @rx.var
    def heading(self) -> str:
        if self.missing:
            return "Sandbox unavailable"
        return self.view.name or "Loading sandbox…"

    @rx.var
    def stop_words(self) -> str:
        """What Stop ends, in the confirmation."""
        count = self.running_tasks
        if count < 0:
            tasks = "Any running tasks are killed"
        elif count == 0:
            tasks = "No task is running"
        else:
            tasks = f"{count} running task{'s' if count != 1 else ''} will be killed"
        return (
            f"{tasks}; every process and terminal shell ends. The workspace is kept, and "
            "Start runs the sandbox again."
        )

    @rx.var
    def subheading(self) -> str:
        if not self.view.name:
            return "Sandboxes"
        return f"{self.view.template_name} sandbox in {self.view.project_name}"

    @staticmethod
    def tab_states() -> dict[str, type[SandboxTab]]:
        """The tabs' substates by tab name (each tab module defines one)."""
        found = (sub for sub in SandboxState.get_substates() if getattr(sub, "TAB", ""))
        return {sub.TAB: sub for sub in found}  # type: ignore[attr-defined]

    async def _tabs(self) -> list[SandboxTab]:
        return [await self.get_state(cls) for cls in self.tab_states().values()]  # type: ignore[misc]

    async def _tab_state(self, tab: str) -> SandboxTab | None:
        cls = self.tab_states().get(tab)
        return await self.get_state(cls) if cls else None  # type: ignore[return-value]

    def _route_id(self) -> str:
        """The id in /sandboxes/<id> (the page's dynamic route segment)."""
        parts = self.router.url.path.strip("/").split("/")
        return parts[1] if len(parts) == 2 and parts[0] == "sandboxes" else ""

    @classmethod
    def _followers(cls) -> list:
        """The background events the page (re)starts with a tab change."""
        return [event for tab in cls.tab_states().values() for event in tab._followers()]

    def _linked_tab(self) -> str:
        """The tab the address names (`?tab=files`), or "" when it names none of them."""
        asked = self.router.url.query_parameters.get("tab", "")
        return asked if asked in self.tab_states() else ""

    @rx.event
    async def load(self):
        sandbox_id = self._route_id()
        if sandbox_id != self.view.id:  # another sandbox: forget the previous one's tabs
            self.view, self.phases, self.ports = SandboxView(), [], []
            self.resources, self.resources_note = [], ""
            self.tab = "logs"
            self._tab_chosen = False
            for state in await self._tabs():
                state._reset()
        else:  # a reload (the terminal mounts again and reconnects)
            for state in await self._tabs():
                state._reloaded()
        linked = self._linked_tab()
        if linked:  # a shared or reloaded address opens its tab
            await self._choose_tab(linked)
        self.error = self.notice = ""
        self.busy = False
        principal = await acting(self)
        self.can_operate = may(principal, Permission.OPERATE)
        self.can_read_content = may(principal, Permission.READ_CONTENT)
        try:
            snapshot = await in_thread(read_sandbox, principal, sandbox_id)
        except Exception as exc:  # said in words; the watcher tries again
            self.loaded, self.error = True, failure_words(exc, "Could not read the sandbox")
            return SandboxState.watch
        await self._apply(snapshot)
        if self.missing:
            return None
        if self.details_open:
            self.resources, self.resources_note = await charts_of(principal, sandbox_id)
        await self._refresh_tab()
        return [SandboxState.watch, *self._followers()]

    @rx.event(background=True)
    async def watch(self):
        """Keep the page current: on every pushed change of a sandbox, and every tick."""
        async with self:
            self._watchers += 1
            ticket = self._watchers
            sandbox_id = self.view.id
        if not sandbox_id:
            return
        tab_read = time.monotonic()
        presence = TabPresence()
        feed = change_rounds(
            *STATUS_TOPICS, every=TICK_SECONDS, settle=DEBOUNCE_SECONDS, at_once=True
        )
        async with feed as rounds:
            async for _ in rounds:
                async with self:
                    if presence.gone(self):
                        return
                    cookie = sign_in_cookie(self.router.headers.cookie)
                try:
                    principal = await in_thread(principal_of_cookie, cookie)
                    snapshot = await in_thread(read_sandbox, principal, sandbox_id)
                except Exception as exc:  # said in words; the next round tries again
                    async with self:
                        self.error = failure_words(exc, "Could not read the sandbox")
                    continue
                async with self:
                    if ticket != self._watchers or self._route_id() != sandbox_id:
                        return
                    before = self.view.status
                    await self._apply(snapshot)
                    tab, tab_changes = self.tab, await self._tab_changes_of(self.tab)
                    details_open = self.details_open
                if snapshot is None:
                    return
                due = time.monotonic() - tab_read >= TICK_SECONDS
                if due and details_open:  # the charts move on with the tick
                    resources = await charts_of(principal, sandbox_id)
                    async with self:
                        self.resources, self.resources_note = resources
                if snapshot.view.status == before and not due:
                    continue  # another sandbox, or a field the open tab does not show
                tab_read = time.monotonic()
                update = await self._read_tab(tab, principal, sandbox_id)
                async with self:
                    stale = self.tab != tab or await self._tab_changes_of(tab) != tab_changes
                    if ticket != self._watchers or stale:
                        continue  # read before the tab changed (or its content): stale
                    await self._show_tab(tab, update)

    async def _tab_changes_of(self, tab: str) -> int:
        state = await self._tab_state(tab)
        return state._changes if state is not None else 0

    async def _show_tab(self, tab: str, update: dict[str, Any]) -> None:
        state = await self._tab_state(tab)
        for name, value in update.items():
            setattr(state, name, value)

    async def _apply(self, snapshot: Snapshot | None) -> None:
        self.loaded = True
        self.missing = snapshot is None
        if snapshot is None:
            return
        if snapshot.view != self.view:
            self.view = snapshot.view
        if snapshot.phases != self.phases:
            self.phases = snapshot.phases
        if snapshot.ports != self.ports:
            self.ports = snapshot.ports
        if not self._tab_chosen and snapshot.view.status == "running" and self.tab == "logs":
            self.tab = "terminal"  # the default tab of a running sandbox
        await self._follow_view()

    async def _follow_view(self) -> None:
        """Tell the tabs that follow the sandbox (the terminal) what it is now."""
        for cls in self.tab_states().values():
            if cls._follow_view is not SandboxTab._follow_view:  # only those that do
                (await self.get_state(cls))._follow_view()

    async def _read_tab(self, tab: str, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        """What the tab shows now, as var values (read without holding the state)."""
        cls = self.tab_states().get(tab)
        return await cls.read_safely(principal, sandbox_id) if cls is not None else {}

    async def _refresh_tab(self) -> None:
        state = await self._tab_state(self.tab)
        if state is not None:
            await state._open()

    async def _choose_tab(self, value: str) -> None:
        self.tab = value
        self._tab_chosen = True
        await self._clear_notices()
        for state in await self._tabs():
            state._shown(value)

    @rx.event
    async def set_tab(self, value: str):
        """Show tab `value`, and name it in the address (a reload or a shared link opens
        it: `?tab=value`), keeping the address's other parameters."""
        if value not in self.tab_states():
            return None
        await self._choose_tab(value)
        await self._follow_view()
        await self._refresh_tab()
        link = json.dumps(value)
        script = (
            "(() => { const url = new URL(window.location.href); "
            f"url.searchParams.set('tab', {link}); "
            "window.history.replaceState(window.history.state, '', url); })()"
        )
        return [rx.call_script(script), *self._followers()]

    async def _clear_notices(self) -> None:
        """A success banner is about the last action: a later action or tab says its own,
        so the old ones go (the page's and every tab's)."""
        self.notice = ""
        for state in await self._tabs():
            state.notice = ""

    @rx.event
    async def toggle_details(self):
        self.details_open = not self.details_open
        if self.details_open:
            principal = await acting(self)
            self.resources, self.resources_note = await charts_of(principal, self.view.id)

    @rx.event
    async def refresh_tab(self):
        await self._refresh_tab()

    async def _reread(self, principal: Principal) -> None:
        await self._apply(await in_thread(read_sandbox, principal, self.view.id))

    async def _act(self, fn: Any, done: str, *, reread: bool = True, **kwargs: Any) -> bool:
        await self._clear_notices()
        principal = await acting(self)
        call = in_thread(_call, principal, fn, self.view.id, **kwargs)
        reload = (lambda: self._reread(principal)) if reread else None
        return bool(await attempt(self, call, done=done, reload=reload))

    @rx.event
    async def decide(self, status: str):
        """Record the validation run's verdict on its template; the callout then offers to
        stop or delete the sandbox (it runs on until one does)."""
        await self._clear_notices()
        principal = await acting(self)
        call = in_thread(decide_run, principal, self.view.validates, self.view.id, status)
        if await attempt(self, call, busy=None, reload=lambda: self._reread(principal)):
            self.notice = f"Recorded: {self.view.template_name} {status} validation."
            if self.view.can_stop:
                self.notice += " The sandbox still runs: stop or delete it when you are done."

    @rx.event
    async def start(self):
        await self._act(sandboxes.start_sandbox, "Start requested.")

    @rx.event
    async def ask_stop(self):
        """Count what Stop would end, for its confirmation."""
        principal = await acting(self)
        counted = await attempt(
            self, in_thread(count_running_tasks, principal, self.view.id), clear=(), busy=None
        )
        self.running_tasks = counted.value if counted else -1

    @rx.event
    async def stop(self):
        await self._act(
            sandboxes.stop_sandbox, "Stopped: every process ended; the workspace is kept."
        )

    @rx.event
    async def renew(self):
        if await self._act(lifetime.renew, "Lease renewed.", data=SandboxRenew()):
            self.notice = f"Lease renewed: {self.view.lease[:1].lower()}{self.view.lease[1:]}."

    @rx.event
    async def delete(self):
        name = self.view.name
        if not await self._act(sandboxes.delete_sandbox, "", reread=False):
            return None
        listing = await self.get_state(SandboxesState)
        listing.flash = f"Deleted sandbox {name}."
        return rx.redirect("/sandboxes")


class SandboxTab(Feedback, mixin=True):
    """A tab of the sandbox page, as a substate of `SandboxState`: it sees (and may set) the
    page's `view` and `tab`, and says back through its own `error`, `notice` and `busy`.

    A tab module subclasses it with the page: `class FilesTab(SandboxTab, SandboxState)`,
    with `TAB` its name; the page finds it there (no list to edit) and calls the hooks."""

    TAB: ClassVar[str] = ""
    loaded: bool = False  # read at least once (before that the tab shows a skeleton)
    # Bumped when the tab changes its own content, so the page's periodic re-read (which
    # may have started before) does not put older content back.
    _changes: int = 0

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        """What the tab shows now to `principal`, as var values, read without holding the
        state (the page's watcher re-reads the open tab with it). Tabs read on request
        return {}."""
        return {}

    @classmethod
    async def read_safely(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        """`read`, with any failure it did not foresee said in words in the tab's `error`
        (never Reflex's own message, never a dead watcher)."""
        try:
            return await cls.read(principal, sandbox_id)
        except Exception as exc:
            return {"error": failure_words(exc, f"Could not read the {cls.TAB} tab")}

    @classmethod
    def _followers(cls) -> list:
        """Background events the page starts with it and on a tab change."""
        return []

    def _reset(self) -> None:
        """Another sandbox: forget what the tab showed."""
        self.reset()

    def _reloaded(self) -> None:
        """The page loaded again for the same sandbox."""

    def _shown(self, tab: str) -> None:
        """The user picked `tab` (this one or another)."""

    def _follow_view(self) -> None:
        """The page read the sandbox again (`view`): a tab that follows it overrides this."""

    async def _new_action(self) -> None:
        """An action of this tab begins: the last success banner (the page's, any tab's)
        is old news."""
        await (await self.get_state(SandboxState))._clear_notices()

    async def _open(self) -> None:
        """The tab shows (or Refresh): read it."""
        for name, value in (await self.read_safely(await acting(self), self.view.id)).items():
            setattr(self, name, value)

    async def _refresh(self) -> None:
        """Read the tab again after an action changed it (newer than a running re-read)."""
        await self._open()
        self._changes += 1
