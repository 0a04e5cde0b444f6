"""Templates page state: the template library as cards, its search and filters, the
create/edit dialog (its form lives in state/template_form.py), and validation runs
(launch one, then mark it passed or failed)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from backend.auth.models import Principal
from backend.errors import InvalidInput, ServiceError
from backend.inventory.models import TemplateBuild
from backend.projects import service as projects
from backend.projects.models import ProjectUpdate
from backend.sandboxes import service as sandboxes
from backend.sandboxes import validation_runs
from backend.templates import service as templates
from backend.templates.models import (
    TemplateCreate,
    TemplateRow,
    TemplateUpdate,
    TemplateValidationRunCreate,
    TemplateValidationRunDecision,
)
from backend.validation import request_body
from state.base import (
    Choice,
    TabPresence,
    acting,
    attempt,
    db_session,
    in_thread,
    refusal,
    services,
)
from state.governance import where_denied
from state.template_form import (
    ADVANCED,
    CUSTOM,
    FORM_FIELDS,
    GLOBAL,
    RUNTIMES,
    SIZES,
    TemplateForm,
    entrypoints,
    form_of,
    labels,
    launch_fields,
    meta_of,
    parse_build,
    pool_fields,
    ready_command,
    size_preset,
)

ALL = "all"  # a filter's "no filter" value (a Radix select item cannot be "")
STATUSES = {
    "not_tested": "Not tested",
    "testing": "Testing",
    "passed": "Validated",
    "failed": "Failed",
}
# A build's state in words (the service's `state`, see backend/inventory/models.py).
BUILD_STATES = {
    "built": "Built",
    "building": "Building",
    "failed": "Build failed",
    "not-built": "Not built yet",
    "unsupported": "Not built by this runtime",
    "none": "No build recipe",
}
BUILD_POLL_SECONDS = 2.0


def validation_status(row: TemplateRow) -> str:
    """The template's validation status, one of STATUSES (`not_tested` when unknown)."""
    status = meta_of(row).get("validationStatus")
    return status if status in STATUSES else "not_tested"


def size_words(row: TemplateRow) -> str:
    """`Medium · 500m CPU · 1Gi`, or `No resource requests`."""
    meta = meta_of(row)
    preset = meta.get("resourcePreset") or size_preset(row.cpu_request, row.memory_request)
    requests = [f"{row.cpu_request} CPU" if row.cpu_request else "", row.memory_request]
    shown = " · ".join(part for part in requests if part)
    if not shown:
        return f"{preset} · no resource requests" if preset != CUSTOM else "No resource requests"
    return f"{preset} · {shown}"


# -- what the page shows -------------------------------------------------------------------


@dataclasses.dataclass
class TemplateCard:
    """One template, already formatted for its card."""

    id: str
    name: str
    slug: str
    image: str
    runtime_type: str
    use_case: str
    entrypoints: str
    size: str
    workspace: str
    status: str
    status_label: str
    scope: str  # GLOBAL or the project id
    scope_label: str
    builtin: bool
    default_for: str  # the projects that launch it by default, by name
    run_id: str  # the latest validation run's sandbox, while it exists
    run_words: str
    search_text: str
    pull_policy: str  # "" for Kubernetes' rule for the image's tag
    has_build: bool
    build_base: str
    build_user: str
    build_packages: list[str]
    build_files: list[str]  # the files' paths


def _blank_card() -> TemplateCard:
    """No template (the inspector's while it is closed)."""
    blank = {"bool": False, "list[str]": []}
    return TemplateCard(
        **{f.name: blank.get(str(f.type), "") for f in dataclasses.fields(TemplateCard)}
    )


NO_CARD = _blank_card()


def _card(
    row: TemplateRow, project_names: dict[uuid.UUID, str], defaults: dict, live: set[str]
) -> TemplateCard:
    meta = meta_of(row)
    status = validation_status(row)
    run_id = str(meta.get("validationSandboxId") or "")
    use_case = str(meta.get("useCase") or "")
    return TemplateCard(
        id=str(row.id),
        name=row.name,
        slug=row.slug,
        image=row.image,
        runtime_type=str(meta.get("runtimeType") or CUSTOM),
        use_case=use_case,
        entrypoints=entrypoints(row.exposed_ports),
        size=size_words(row),
        workspace=f"Workspace {row.storage_request}"
        if row.storage_request
        else "Ephemeral workspace",
        status=status,
        status_label=STATUSES[status],
        scope=str(row.project_id) if row.project_id else GLOBAL,
        scope_label=project_names.get(row.project_id, "Global") if row.project_id else "Global",
        builtin=bool(meta.get("builtin")),
        default_for=", ".join(defaults.get(row.id, [])),
        run_id=run_id if run_id in live else "",
        run_words=_run_words(meta, run_id in live),
        search_text=" ".join((row.name, row.slug, row.image, use_case)).lower(),
        pull_policy=row.image_pull_policy,
        has_build=bool(row.build),
        build_base=str(row.build.get("base") or ""),
        build_user=str(row.build.get("user") or ""),
        build_packages=[str(p) for p in row.build.get("packages") or []],
        build_files=[str(f.get("path")) for f in row.build.get("files") or []],
    )


def _run_words(meta: dict[str, Any], live: bool) -> str:
    if not meta.get("validationSandboxId"):
        return ""
    decided, started = meta.get("validationDecidedAt"), meta.get("validationStartedAt")
    when = f"decided {_day(decided)}" if decided else f"started {_day(started)}" if started else ""
    gone = "" if live else " (sandbox deleted)"
    return f"Latest run{gone}" + (f", {when}" if when else "")


def _day(stamp: Any) -> str:
    """`2026-11-27 04:50 UTC` from the RFC 3339 text stored in metadata."""
    text = str(stamp or "")
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 else text


# The library's filters as the address names them (`/templates?q=node&runtime=Node.js`).
FILTER_PARAMS = {
    "q": "query",
    "scope": "scope_filter",
    "runtime": "runtime_filter",
    "status": "status_filter",
}


def library_link(filters: dict[str, str]) -> str:
    """The library's address with its filters (reloaded or shared, it shows the same)."""
    kept = {param: value for param, value in filters.items() if value.strip() and value != ALL}
    return "/templates" + (f"?{urlencode(kept)}" if kept else "")


@dataclasses.dataclass
class Library:
    cards: list[TemplateCard]
    projects: list[Choice]


def read_library(principal: Principal) -> Library:
    with db_session(principal) as db:
        project_rows = projects.list_projects(db)
        rows = templates.list_templates(db)
        live = {str(s.id) for s in sandboxes.list_sandboxes(db)}
    names = {p.id: p.name for p in project_rows}
    defaults: dict[uuid.UUID, list[str]] = {}
    for project in project_rows:
        if project.default_template_id:
            defaults.setdefault(project.default_template_id, []).append(project.name)
    return Library(
        cards=[_card(row, names, defaults, live) for row in rows],
        projects=[Choice(str(p.id), p.name) for p in project_rows],
    )


def create_template(principal: Principal, form: TemplateForm) -> str:
    """Create through the service; make it the project's default if asked. Returns the name."""
    project_id = None if form.scope == GLOBAL else form.scope
    data = request_body(
        TemplateCreate,
        {
            "projectId": project_id,
            "name": form.name,
            "slug": form.slug.strip() or None,
            **launch_fields(form),
            **pool_fields(form),
            "metadata": {**labels(form), "validationStatus": "not_tested"},
        },
    )
    with db_session(principal) as db:
        row = templates.create_template(db, principal=principal, data=data)
        if project_id and form.make_default:
            projects.update_project(
                db,
                principal=principal,
                project_id=uuid.UUID(project_id),
                data=request_body(ProjectUpdate, {"defaultTemplateId": str(row.id)}),
            )
        return row.name


def update_template(principal: Principal, template_id: str, form: TemplateForm) -> str:
    """Save the dialog; a changed launch shape sets the template back to Not tested (its
    old verdict was about another recipe). Returns the name."""
    fields = launch_fields(form)
    with db_session(principal) as db:
        row = templates.get_template(db, uuid.UUID(template_id))
        before = launch_fields(form_of(row))
        meta = {**meta_of(row), **labels(form)}
        if fields != before:
            meta["validationStatus"] = "not_tested"
        data = request_body(
            TemplateUpdate, {"name": form.name, **fields, **pool_fields(form), "metadata": meta}
        )
        row = templates.update_template(db, principal=principal, template_id=row.id, data=data)
        return row.name


async def read_build(principal: Principal, template_id: str) -> TemplateBuild:
    """Where the template's build recipe stands on the runtime (for whoever may read the
    template: another project's is not found)."""
    return await services().inventory.template_build(
        principal=principal, template_id=uuid.UUID(template_id)
    )


def build_words(build: TemplateBuild) -> str:
    return BUILD_STATES.get(build.state, build.state)


def read_form(principal: Principal, template_id: str) -> TemplateForm:
    with db_session(principal) as db:
        return form_of(templates.get_template(db, uuid.UUID(template_id)))


def delete_template(principal: Principal, template_id: str) -> None:
    with db_session(principal) as db:
        templates.delete_template(db, principal=principal, template_id=uuid.UUID(template_id))


def start_run(principal: Principal, template_id: str, project_id: str) -> str:
    """Launch a validation run (policy, quota and audit live in the service); its sandbox id."""
    data = request_body(
        TemplateValidationRunCreate, {"projectId": project_id} if project_id else {}
    )
    with db_session(principal) as db:
        _, sandbox = validation_runs.start_run(
            db, principal=principal, template_id=uuid.UUID(template_id), data=data
        )
        return str(sandbox.id)


def decide_run(principal: Principal, template_id: str, sandbox_id: str, status: str) -> None:
    data = request_body(TemplateValidationRunDecision, {"status": status})
    with db_session(principal) as db:
        validation_runs.decide_run(
            db,
            principal=principal,
            template_id=uuid.UUID(template_id),
            sandbox_id=uuid.UUID(sandbox_id),
            data=data,
        )


class TemplatesState(rx.State):
    cards: list[TemplateCard] = []
    projects: list[Choice] = []
    query: str = ""
    scope_filter: str = ALL
    runtime_filter: str = ALL
    status_filter: str = ALL
    error: str = ""
    notice: str = ""
    # The create/edit dialog: `editing_id` is "" while creating.
    editor_open: bool = False
    editing_id: str = ""
    form: TemplateForm = TemplateForm()
    editor_error: str = ""
    error_field: str = ""  # the dialog field `editor_error` is about (FORM_FIELDS)
    advanced_open: bool = False  # unfolded when an error names an advanced field
    editor_busy: bool = False
    build_error: str = ""  # the recipe field's JSON, in words
    # The inspector: a template's recipe, and where its build stands on the runtime.
    inspect_id: str = ""
    build_state: str = ""
    build_state_label: str = ""
    build_reference: str = ""
    build_digest: str = ""
    build_log: str = ""
    build_message: str = ""
    build_read_error: str = ""
    _inspections: int = 0
    # The dialog that picks a project to validate a global template in.
    validate_open: bool = False
    validate_id: str = ""
    validate_name: str = ""
    validate_project: str = ""
    validate_error: str = ""
    validate_busy: bool = False
    # Where the quota or launch policy that refused a validation run is set (words, href).
    fix_words: str = ""
    fix_href: str = ""

    @rx.var
    def visible(self) -> list[TemplateCard]:
        words = self.query.strip().lower().split()
        return [
            card
            for card in self.cards
            if all(word in card.search_text for word in words)
            and self.scope_filter in (ALL, card.scope)
            and self.runtime_filter in (ALL, card.runtime_type)
            and self.status_filter in (ALL, card.status)
        ]

    @rx.var
    def count_words(self) -> str:
        total, shown = len(self.cards), len(self.visible)
        noun = "template" if total == 1 else "templates"
        return f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"

    @rx.var
    def scope_choices(self) -> list[Choice]:
        return [Choice(ALL, "All scopes"), Choice(GLOBAL, "Global"), *self.projects]

    @rx.var
    def form_scopes(self) -> list[Choice]:
        return [Choice(GLOBAL, "Global (every project)"), *self.projects]

    @rx.var
    def inspected(self) -> TemplateCard:
        return next((c for c in self.cards if c.id == self.inspect_id), NO_CARD)

    @rx.var
    def inspector_open(self) -> bool:
        return self.inspect_id != ""

    @rx.var
    def editor_title(self) -> str:
        return "Edit template" if self.editing_id else "New template"

    @rx.var
    def scoped_to_project(self) -> bool:
        return self.form.scope != GLOBAL

    @rx.event
    async def load(self):
        """Open the page with the address's filters (none given: none applied)."""
        self.error = self.notice = ""
        asked = self.router.url.query_parameters
        for param, name in FILTER_PARAMS.items():
            setattr(self, name, str(asked.get(param, "" if param == "q" else ALL)))
        if self.runtime_filter not in (ALL, *RUNTIMES):
            self.runtime_filter = ALL
        if self.status_filter not in (ALL, *STATUSES):
            self.status_filter = ALL
        await self._reload()

    def _show_filters(self) -> rx.event.EventSpec:
        """Put the filters in the address bar (no navigation)."""
        filters = {param: getattr(self, name) for param, name in FILTER_PARAMS.items()}
        link = json.dumps(library_link(filters))
        return rx.call_script(f"window.history.replaceState(window.history.state, '', {link})")

    async def _reload(self, principal: Principal | None = None):
        library = await in_thread(read_library, principal or await acting(self))
        self.cards, self.projects = library.cards, library.projects
        known = {GLOBAL, *(p.value for p in library.projects)}
        if self.scope_filter not in (ALL, *known):
            self.scope_filter = ALL

    @rx.event
    def set_query(self, value: str):
        self.query = value
        return self._show_filters()

    @rx.event
    def set_scope_filter(self, value: str):
        self.scope_filter = value
        return self._show_filters()

    @rx.event
    def set_runtime_filter(self, value: str):
        self.runtime_filter = value
        return self._show_filters()

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter = value
        return self._show_filters()

    @rx.event
    def clear_filters(self):
        self.query = ""
        self.scope_filter = self.runtime_filter = self.status_filter = ALL
        return self._show_filters()

    # -- the dialog ------------------------------------------------------------------------

    @rx.event
    def set_editor_open(self, value: bool):
        """The "New template" trigger opens a fresh form; closing keeps nothing."""
        if value:  # a new action: the last one's words go
            self.notice = self.error = ""
            self.editing_id = ""
            scope = self.scope_filter if self.scope_filter not in (ALL, GLOBAL) else GLOBAL
            self.form = TemplateForm(scope=scope)
        self.editor_error = self.build_error = self.error_field = ""
        self.advanced_open = False
        self.editor_open = value

    @rx.event
    async def edit(self, template_id: str):
        found = await attempt(
            self, in_thread(read_form, await acting(self), template_id), busy=None
        )
        if not found:
            return
        self.form = found.value
        self.editing_id = template_id
        self.editor_error = self.build_error = self.error_field = ""
        self.advanced_open = False
        self.editor_open = True

    @rx.event
    def set_field(self, name: str, value: str):
        """Any text field of the form; CPU and memory re-derive the size preset."""
        self._change(**{name: value})
        if name == "build":
            self.build_error = ""
        if name in ("cpu", "memory"):
            self._change(size=size_preset(self.form.cpu, self.form.memory))

    @rx.event
    def set_runtime_type(self, value: str):
        """On a new template, a runtime type presets its image, command, use case, ports."""
        self._change(runtime_type=value)
        image, use_case, ports = RUNTIMES.get(value, RUNTIMES[CUSTOM])
        if not self.editing_id and value != CUSTOM:
            self._change(image=image, use_case=use_case, ports=ports, command=ready_command(value))

    @rx.event
    def set_size(self, value: str):
        self._change(size=value)
        if value in SIZES:
            cpu, memory = SIZES[value]
            self._change(cpu=cpu, memory=memory)

    @rx.event
    def set_make_default(self, value: bool):
        self._change(make_default=value)

    def _change(self, **fields: Any):
        """Replace form fields (a new value, so the change reaches the browser)."""
        self.form = dataclasses.replace(self.form, **fields)
        self.editor_error = self.error_field = ""

    @rx.event
    async def save(self, _form: dict | None = None):
        self.editor_error = self.error_field = ""
        try:
            parse_build(self.form.build)
        except InvalidInput as exc:  # words next to the field; nothing is sent
            self.build_error, self.advanced_open = exc.message, True
            return
        self.build_error = ""
        self.notice = ""
        principal = await acting(self)  # before busy: a failure here leaves nothing busy
        self.editor_busy = True
        yield
        if self.editing_id:
            call = in_thread(update_template, principal, self.editing_id, self.form)
            done = "Saved"
        else:
            call, done = in_thread(create_template, principal, self.form), "Created"
        saved = await attempt(
            self, call, error="editor_error", clear=(), busy="editor_busy", fields=FORM_FIELDS
        )
        if not saved:
            self.advanced_open = self.advanced_open or self.error_field in ADVANCED
            return
        self.notice = f"{done} template {saved.value}."
        self.editor_open = False
        self.error = ""
        await self._reload(principal)

    @rx.event
    async def delete(self, template_id: str):
        name = next((c.name for c in self.cards if c.id == template_id), "the template")
        principal = await acting(self)
        await attempt(
            self,
            in_thread(delete_template, principal, template_id),
            done=f"Deleted template {name}.",
            failed=lambda exc: f"Could not delete {name}: {refusal(exc)}",
            busy=None,
            reload=lambda: self._reload(principal),
        )

    # -- validation runs -------------------------------------------------------------------

    @rx.event
    async def validate(self, template_id: str):
        """A project template runs in its project; a global one asks which project."""
        self.error = self.notice = self.fix_words = self.fix_href = ""
        card = next((c for c in self.cards if c.id == template_id), None)
        if card is None:
            return
        if card.scope != GLOBAL:
            run = await attempt(
                self,
                in_thread(start_run, await acting(self), template_id, ""),
                failed=lambda exc: self._run_refused(
                    exc, card.scope, f"Could not validate {card.name}: "
                ),
                clear=(),
                busy=None,
            )
            return rx.redirect(f"/sandboxes/{run.value}") if run else None
        if not self.projects:
            self.error = "Create a project first: a validation run is a sandbox in a project."
            return
        self.validate_id, self.validate_name = card.id, card.name
        if self.validate_project not in {p.value for p in self.projects}:
            self.validate_project = self.projects[0].value
        self.validate_error = ""
        self.validate_open = True

    @rx.event
    def set_validate_open(self, value: bool):
        self.validate_open = value
        self.validate_error = ""

    @rx.event
    def set_validate_project(self, value: str):
        self.validate_project = value
        self.validate_error = ""

    @rx.event
    async def start_validation(self, _form: dict | None = None):
        principal = await acting(self)  # before busy: a failure here leaves nothing busy
        self.validate_busy = True
        yield
        call = in_thread(start_run, principal, self.validate_id, self.validate_project)
        self.fix_words = self.fix_href = ""
        run = await attempt(
            self,
            call,
            error="validate_error",
            failed=lambda exc: self._run_refused(exc, self.validate_project),
            clear=(),
            busy="validate_busy",
        )
        if not run:
            return
        self.validate_open = False
        yield rx.redirect(f"/sandboxes/{run.value}")

    def _run_refused(self, exc: ServiceError, project_id: str, lead: str = "") -> str:
        """A refused validation run in words, keeping where its quota or policy is set."""
        self.fix_words, self.fix_href = where_denied(exc, project_id)
        return lead + refusal(exc)

    @rx.event
    async def decide(self, template_id: str, sandbox_id: str, status: str):
        principal = await acting(self)
        call = in_thread(decide_run, principal, template_id, sandbox_id, status)
        await attempt(self, call, busy=None, reload=lambda: self._reload(principal))

    # -- the inspector ---------------------------------------------------------------------

    @rx.event
    async def inspect(self, template_id: str):
        """Open a template's inspector: its recipe, and its build state and log (read again
        every few seconds while it builds)."""
        self.inspect_id = template_id
        self._clear_build()
        self.build_state_label = "Reading the build…"
        self._inspections += 1
        return TemplatesState.follow_build

    @rx.event
    def set_inspector_open(self, value: bool):
        if not value:
            self.inspect_id = ""
            self._inspections += 1  # ends the build's watcher
            self._clear_build()

    def _clear_build(self):
        self.build_state = self.build_state_label = self.build_reference = ""
        self.build_digest = self.build_log = self.build_message = self.build_read_error = ""

    def _show_build(self, build: TemplateBuild):
        self.build_state, self.build_state_label = build.state, build_words(build)
        self.build_reference, self.build_digest = build.reference or "", build.digest or ""
        self.build_log, self.build_message = build.log, build.message or ""
        self.build_read_error = ""

    @rx.event
    async def refresh_build(self):
        if self.inspect_id:
            await self._read_build_now()

    async def _read_build_now(self):
        try:
            build = await read_build(await acting(self), self.inspect_id)
        except ServiceError as exc:
            self.build_read_error = f"Could not read the build: {refusal(exc).rstrip('.')}."
            self.build_state_label = ""
            return
        self._show_build(build)

    @rx.event(background=True)
    async def follow_build(self):
        """Read the build now, then again every BUILD_POLL_SECONDS while it is building and
        the inspector shows the same template."""
        async with self:
            ticket, template_id = self._inspections, self.inspect_id
            principal = await acting(self)
        presence = TabPresence()
        while template_id:
            try:
                build, failure = await read_build(principal, template_id), ""
            except ServiceError as exc:
                build, failure = None, f"Could not read the build: {refusal(exc).rstrip('.')}."
            async with self:
                if ticket != self._inspections or presence.gone(self):
                    return
                if build is None:
                    self.build_read_error, self.build_state_label = failure, ""
                    return
                self._show_build(build)
            if build.state != "building":
                return
            await asyncio.sleep(BUILD_POLL_SECONDS)
