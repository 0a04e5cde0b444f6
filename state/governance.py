"""What the per-project governance pages share (policies, quotas, credentials): a project
picker (`?project=<id>` opens one; else the first the principal sees), whether the role may
change what they show (govern), and a re-read of the picked project's settings."""

from __future__ import annotations

import reflex as rx

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.errors import DeniedRule, PolicyDenied, ServiceError
from backend.projects import service as projects
from state.base import Choice, Feedback, acting, db_session, in_thread, may


def where_set(rules: list[DeniedRule], project_id: str) -> tuple[str, str]:
    """Where the limits that denied a launch are set: a quota's on /quotas, a launch
    policy rule's on /policies (the project's); ("", "") for no rules."""
    if not rules:
        return "", ""
    if any(rule.limit is not None for rule in rules):
        return "Change the project's quotas", f"/quotas?project={project_id}"
    return "Change the project's launch policy", f"/policies?project={project_id}"


def where_denied(exc: ServiceError, project_id: str) -> tuple[str, str]:
    """`where_set` for a refusal: ("", "") unless it is a policy or quota denial."""
    if not isinstance(exc, PolicyDenied) or not project_id:
        return "", ""
    return where_set(exc.rules, project_id)


def read_projects(principal: Principal) -> list[Choice]:
    with db_session(principal) as db:
        return [Choice(str(p.id), p.name) for p in projects.list_projects(db)]


class GovernedProject(Feedback, mixin=True):
    """A page about one project at a time. Subclasses read the project's settings in
    `_read` (and clear them when there is no project)."""

    projects: list[Choice] = []
    project: str = ""
    can_govern: bool = False  # may change what the page shows (else it is read-only)
    loaded: bool = False  # the projects were read: the empty state may speak

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        principal = await acting(self)
        self.can_govern = may(principal, Permission.GOVERN)
        self.projects = await in_thread(read_projects, principal)
        known = [p.value for p in self.projects]
        wanted = self.router.url.query_parameters.get("project") or self.project
        self.project = wanted if wanted in known else (known[0] if known else "")
        await self._read(principal)
        self.loaded = True

    @rx.event
    async def set_project(self, value: str):
        self.project, self.notice = value, ""
        await self._read(await acting(self))

    def _project_name(self) -> str:
        return next((p.label for p in self.projects if p.value == self.project), "the project")

    async def _read(self, principal: Principal) -> None:
        raise NotImplementedError
