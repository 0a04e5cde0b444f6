"""Projects: the unit of ownership for templates, sandboxes, policy and audit."""

from __future__ import annotations

import reflex as rx

from components.feedback import empty_state, error_callout, notice_callout
from components.forms import hydrated_fieldset, panel, text_field
from components.shell import shell
from components.tables import data_table, mono, muted
from state.projects import ProjectItem, ProjectsState

TITLE = "Projects"
DESCRIPTION = "Projects own templates, sandboxes, policies and their audit trail."


def page() -> rx.Component:
    return shell(
        rx.grid(
            project_list(),
            create_form(),
            columns=rx.breakpoints(initial="1", lg="minmax(0, 1fr) 20rem"),
            gap="1.5rem",
            align_items="start",
        ),
        active="projects",
        title=TITLE,
        description=DESCRIPTION,
    )


def project_list() -> rx.Component:
    return data_table(
        ["Project", "Namespace", "Repository", "Created"],
        ProjectsState.projects,
        project_row,
        label="Projects",
        empty=empty_state(
            "folder-kanban",
            "No projects yet",
            "Create the first project with the form; its templates and sandboxes live in it.",
        ),
    )


def project_row(project: rx.Var[ProjectItem]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(project.name, weight="medium", size="2"),
                rx.text(project.slug, size="1", color=rx.color("gray", 10)),
                spacing="0",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(mono(project.namespace), white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                project.repository_url,
                rx.link(
                    project.repository_label,
                    href=project.repository_url,
                    title=project.repository_url,
                    is_external=True,
                    size="2",
                ),
                muted("Not set"),
            ),
            max_width="16rem",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
        ),
        rx.table.cell(muted(project.created), title=project.created_at, white_space="nowrap"),
        align="center",
    )


def create_form() -> rx.Component:
    return panel(
        rx.form(
            hydrated_fieldset(
                rx.heading("New project", as_="h2", size="3", weight="medium"),
                text_field(
                    "Name",
                    id="project-name",
                    value=ProjectsState.name,
                    on_change=ProjectsState.set_name,
                    placeholder="Payments API",
                    required=True,
                ),
                text_field(
                    "Default namespace",
                    id="project-namespace",
                    value=ProjectsState.namespace,
                    on_change=ProjectsState.set_namespace,
                    placeholder="mbox-payments-api",
                    hint="Suggested from the slug until you edit it.",
                ),
                text_field(
                    "Slug",
                    id="project-slug",
                    value=ProjectsState.slug,
                    on_change=ProjectsState.set_slug,
                    placeholder="derived from the name",
                    hint="Optional: lower-case letters, digits, dashes.",
                ),
                text_field(
                    "Repository URL",
                    id="project-repository",
                    value=ProjectsState.repository_url,
                    on_change=ProjectsState.set_repository_url,
                    placeholder="https://github.com/acme/payments",
                    hint="Optional.",
                ),
                error_callout(ProjectsState.error),
                notice_callout(ProjectsState.notice),
                rx.button(rx.icon("plus", size=16), "Create project", type="submit", width="100%"),
            ),
            on_submit=ProjectsState.create,
            reset_on_submit=False,
            aria_label="New project",
        ),
        padding="1.25rem",
    )
