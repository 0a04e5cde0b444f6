"""Projects page state: the project list and the create form."""

from __future__ import annotations

import dataclasses

import reflex as rx

from backend.errors import ServiceError
from backend.projects import service as projects
from backend.projects.models import ProjectCreate, ProjectRow
from backend.validation import slugify
from state.base import CONSOLE, db_session, in_thread


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


def list_projects() -> list[ProjectItem]:
    with db_session() as session:
        return [_item(row) for row in projects.list_projects(session)]


def create_project(data: ProjectCreate) -> str:
    """Create through the service (which audits it); return the stored name."""
    with db_session() as session:
        return projects.create_project(session, principal=CONSOLE, data=data).name


class ProjectsState(rx.State):
    projects: list[ProjectItem] = []
    name: str = ""
    slug: str = ""
    namespace: str = ""
    repository_url: str = ""
    # Once the user types a namespace we stop suggesting one (clearing it resumes).
    namespace_edited: bool = False
    error: str = ""
    notice: str = ""

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        self.projects = await in_thread(list_projects)

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
        self.error = self.notice = ""

    def _edited(self):
        """Any edit clears stale messages and refreshes the `mbox-<slug>` suggestion."""
        self.error = self.notice = ""
        if not self.namespace_edited:
            slug = slugify(self.slug.strip() or self.name)
            self.namespace = f"mbox-{slug}" if slug else ""

    @rx.event
    async def create(self, _form: dict | None = None):
        data = ProjectCreate.model_validate(
            {
                "name": self.name,
                "defaultNamespace": self.namespace,
                "slug": self.slug.strip() or None,
                "repositoryUrl": self.repository_url.strip() or None,
            }
        )
        try:
            name = await in_thread(create_project, data)
        except ServiceError as exc:
            self.error = exc.message
            return
        self._clear_form()
        self.projects = await in_thread(list_projects)
        self.notice = f"Created project {name}."

    def _clear_form(self):
        self.name = self.slug = self.namespace = self.repository_url = ""
        self.error = self.notice = ""
        self.namespace_edited = False
