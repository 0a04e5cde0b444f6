"""Sandboxes page state: every sandbox at a glance, a project filter and the launch form.

The list refreshes itself while the page is open (`watch`), so a launch seen as pending
turns running without a reload. The formatting helpers here are shared with the sandbox
page (state/sandbox.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from datetime import datetime

import reflex as rx

from backend.errors import ServiceError
from backend.projects import service as projects
from backend.projects.models import ProjectRow
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxCreate, SandboxRow
from backend.templates import service as templates
from backend.templates.models import TemplateRow
from state.base import CONSOLE, db_session, in_thread

ALL_PROJECTS = "all"  # the filter's "no filter" value (a Radix select item cannot be "")
LIST_REFRESH_SECONDS = 2.0

# Why a sandbox is in its status, in words (anything else is shown as the runtime said it).
REASONS = {
    "ttl": "lease expired",
    "start-failed": "start failed",
    "template-missing": "template deleted",
}


def status_words(status: str, reason: str, message: str) -> str:
    """`Stopped: idle — no activity for 3600 s`, `Stopped by request`, `Running`."""
    label = status.capitalize()
    if reason == "user":
        return f"{label} by request"
    if status == "pending" and not reason:
        return "Pending: waiting for the runtime"
    detail = " — ".join(part for part in (REASONS.get(reason, reason), message) if part)
    return f"{label}: {detail}" if detail else label


def duration(seconds: float) -> str:
    """A span for people: `24 ms`, `1.3 s`, `42 s`, `5 min 3 s`, `1 h`, `2 d 4 h`."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


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


@dataclasses.dataclass
class Choice:
    """An option of a select: the value sent and the words shown."""

    value: str
    label: str


@dataclasses.dataclass
class TemplateChoices:
    project: list[Choice]
    shared: list[Choice]
    default_id: str
    slugs: dict[str, str]


def _item(row: SandboxRow, project_names: dict, template_names: dict) -> SandboxItem:
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
    )


def read_overview() -> tuple[list[SandboxItem], list[Choice]]:
    """Every sandbox (newest first) and the projects to choose from."""
    with db_session() as session:
        project_rows: list[ProjectRow] = projects.list_projects(session)
        template_rows: list[TemplateRow] = templates.list_templates(session)
        rows = sandboxes.list_sandboxes(session)
    project_names = {p.id: p.name for p in project_rows}
    template_names = {t.id: t.name for t in template_rows}
    items = [_item(row, project_names, template_names) for row in rows]
    choices = [Choice(str(p.id), p.name) for p in project_rows]
    return items, choices


def read_templates(project_id: str) -> TemplateChoices:
    """The templates a project may launch from: its own and the global ones."""
    parsed = parse_id(project_id)
    if parsed is None:
        return TemplateChoices([], [], "", {})
    with db_session() as session:
        project = projects.get_project(session, parsed)
        rows = templates.list_templates(session, project_id=parsed)
    default_id = str(project.default_template_id) if project.default_template_id else ""
    return TemplateChoices(
        project=[Choice(str(t.id), t.name) for t in rows if t.project_id is not None],
        shared=[Choice(str(t.id), t.name) for t in rows if t.project_id is None],
        default_id=default_id,
        slugs={str(t.id): t.slug for t in rows},
    )


def create_sandbox(data: SandboxCreate) -> str:
    """Launch through the service (policy, quota and audit live there); return the new id."""
    with db_session() as session:
        return str(sandboxes.create_sandbox(session, principal=CONSOLE, data=data).id)


class SandboxesState(rx.State):
    sandboxes: list[SandboxItem] = []
    projects: list[Choice] = []
    project_filter: str = ALL_PROJECTS
    # The launch form.
    project_id: str = ""
    template_id: str = ""
    project_templates: list[Choice] = []
    global_templates: list[Choice] = []
    default_template_id: str = ""
    name: str = ""
    suggested_name: str = ""
    error: str = ""
    notice: str = ""
    # A message another page leaves for this one (e.g. "Deleted sandbox x.").
    flash: str = ""
    _template_slugs: dict[str, str] = {}
    _watchers: int = 0

    @rx.var
    def visible(self) -> list[SandboxItem]:
        if self.project_filter == ALL_PROJECTS:
            return self.sandboxes
        return [s for s in self.sandboxes if s.project_id == self.project_filter]

    @rx.var
    def filter_choices(self) -> list[Choice]:
        return [Choice(ALL_PROJECTS, "All projects"), *self.projects]

    @rx.var
    def name_hint(self) -> str:
        if not self.suggested_name:
            return "Optional."
        return "Optional: blank uses the suggestion."

    @rx.event
    async def load(self):
        self.error = ""
        self.notice, self.flash = self.flash, ""
        items, choices = await in_thread(read_overview)
        self.sandboxes, self.projects = items, choices
        known = {c.value for c in choices}
        if self.project_filter != ALL_PROJECTS and self.project_filter not in known:
            self.project_filter = ALL_PROJECTS
        if self.project_id not in known:
            preferred = self.project_filter if self.project_filter in known else ""
            self.project_id = preferred or (choices[0].value if choices else "")
            self.template_id = ""
        await self._load_templates()
        return SandboxesState.watch

    @rx.event(background=True)
    async def watch(self):
        """Refresh the list while this page is open. Leaving the page cancels this task (a
        navigation supersedes the page-load chain it belongs to); the ticket check also
        ends an older loop when the page loads again."""
        async with self:
            self._watchers += 1
            ticket = self._watchers
        while True:
            await asyncio.sleep(LIST_REFRESH_SECONDS)
            items, _ = await in_thread(read_overview)
            async with self:
                if ticket != self._watchers or self.router.url.path.rstrip("/") != "/sandboxes":
                    return
                if items != self.sandboxes:
                    self.sandboxes = items

    @rx.event
    def set_project_filter(self, value: str):
        self.project_filter = value
        if value != ALL_PROJECTS and value != self.project_id:
            return SandboxesState.set_project_id(value)

    @rx.event
    async def set_project_id(self, value: str):
        self.project_id = value
        self.template_id = ""
        self.error = self.notice = ""
        await self._load_templates()

    @rx.event
    def set_template_id(self, value: str):
        self.template_id = value
        self.error = self.notice = ""
        self._suggest_name()

    @rx.event
    def set_name(self, value: str):
        self.name = value
        self.error = self.notice = ""

    async def _load_templates(self):
        try:
            found = await in_thread(read_templates, self.project_id)
        except ServiceError as exc:
            found = TemplateChoices([], [], "", {})
            self.error = exc.message
        self.project_templates, self.global_templates = found.project, found.shared
        self.default_template_id = found.default_id
        self._template_slugs = found.slugs
        if self.template_id not in found.slugs:
            self.template_id = found.default_id
        self._suggest_name()

    def _suggest_name(self):
        """`<template-slug>-<4 hex>`: short, and unique enough to launch again at once."""
        template_slug = self._template_slugs.get(self.template_id, "")
        self.suggested_name = (
            f"{template_slug[:50]}-{secrets.token_hex(2)}" if template_slug else ""
        )

    @rx.event
    async def create(self, _form: dict | None = None):
        self.error = self.notice = ""
        if not self.project_id:
            self.error = "Choose a project to launch the sandbox in."
            return
        if not self.template_id:
            self.error = "Choose a template to launch from."
            return
        name = self.name.strip() or self.suggested_name
        data = SandboxCreate.model_validate(
            {"projectId": self.project_id, "templateId": self.template_id, "name": name}
        )
        try:
            sandbox_id = await in_thread(create_sandbox, data)
        except ServiceError as exc:
            self.error = exc.message
            return
        self.name = ""
        self._suggest_name()
        return rx.redirect(f"/sandboxes/{sandbox_id}")
