"""Projects: the unit of ownership for templates, sandboxes, policy and audit."""

from __future__ import annotations

import reflex as rx

from components.audit import recent_events
from components.charts import bar_chart, meter
from components.dialogs import confirm_delete, form_dialog
from components.feedback import empty_state, error_callout, fix_link, notice_callout
from components.forms import (
    error_at,
    field_hint,
    hydrated_fieldset,
    panel,
    select_field,
    text_field,
    unplaced,
)
from components.projects import section
from components.tables import clipped, data_table, facts, mono, muted
from components.theme import TEXT_SECONDARY, TEXT_TERTIARY, clamp
from mbox_app.pages.frame import console_page
from state.projects import ProjectItem, ProjectsState
from state.sign_in import SignInState

TITLE = "Projects"
# The list shares the width with the form or the inspector: at 1280 px its columns fit
# when a name is cut at PROJECT_WIDTH and a namespace at NAMESPACE_WIDTH.
PROJECT_WIDTH = "11rem"
NAMESPACE_WIDTH = "9rem"
DESCRIPTION = "Projects own templates, sandboxes, policies and their audit trail."


def page() -> rx.Component:
    return console_page(
        notice_callout(ProjectsState.notice),
        rx.grid(
            project_list(),
            rx.cond(
                ProjectsState.selected_id,
                inspector(),
                rx.cond(SignInState.can_govern, create_form(), read_only_note()),
            ),
            columns=rx.breakpoints(initial="1", lg="minmax(0, 1fr) 21rem"),
            gap="1.5rem",
            align_items="start",
            margin_top=rx.cond(ProjectsState.notice, "1rem", "0"),
        ),
        active="projects",
        title=TITLE,
        description=DESCRIPTION,
    )


def project_list() -> rx.Component:
    return data_table(
        ["Project", "Namespace", "Created", ""],
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
                clipped(project.name, width=PROJECT_WIDTH, weight="medium", size="2"),
                clipped(project.slug, width=PROJECT_WIDTH, size="1", color=TEXT_TERTIARY),
                rx.cond(
                    project.repository_url,
                    rx.link(
                        project.repository_label,
                        href=project.repository_url,
                        title=project.repository_url,
                        is_external=True,
                        size="1",
                        max_width="100%",
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                    ),
                ),
                spacing="0",
                min_width="0",
            ),
            max_width="16rem",
        ),
        rx.table.cell(
            rx.code(
                clipped(project.namespace, width=NAMESPACE_WIDTH),
                variant="ghost",
                color_scheme="gray",
                size="2",
            )
        ),
        rx.table.cell(muted(project.created), title=project.created_at, white_space="nowrap"),
        rx.table.cell(
            rx.button(
                "Inspect",
                variant="soft",
                size="1",
                aria_label=f"Inspect {project.name}",
                aria_pressed=ProjectsState.selected_id == project.id,
                on_click=ProjectsState.inspect(project.id),
            ),
            text_align="right",
        ),
        align="center",
        background=rx.cond(
            ProjectsState.selected_id == project.id, rx.color("accent", 2), "transparent"
        ),
    )


def create_error(key: str) -> rx.Var[str]:
    return error_at(ProjectsState.error, ProjectsState.error_field, key)


def edit_error(key: str) -> rx.Var[str]:
    return error_at(ProjectsState.edit_error, ProjectsState.error_field, key)


def create_form() -> rx.Component:
    return panel(
        rx.form(
            hydrated_fieldset(
                rx.heading("New project", as_="h2", size="3", weight="medium"),
                text_field(
                    "Name",
                    id="project-name",
                    error=create_error("name"),
                    value=ProjectsState.name,
                    on_change=ProjectsState.set_name,
                    placeholder="Payments API",
                    required=True,
                ),
                text_field(
                    "Default namespace",
                    id="project-namespace",
                    error=create_error("namespace"),
                    value=ProjectsState.namespace,
                    on_change=ProjectsState.set_namespace,
                    placeholder="mbox-payments-api",
                    hint="Suggested from the slug until you edit it.",
                ),
                text_field(
                    "Slug",
                    id="project-slug",
                    error=create_error("slug"),
                    value=ProjectsState.slug,
                    on_change=ProjectsState.set_slug,
                    placeholder="derived from the name",
                    hint="Optional: lower-case letters, digits, dashes.",
                ),
                text_field(
                    "Repository URL",
                    id="project-repository",
                    error=create_error("repository"),
                    value=ProjectsState.repository_url,
                    on_change=ProjectsState.set_repository_url,
                    placeholder="https://github.com/acme/payments",
                    hint="Optional.",
                ),
                error_callout(unplaced(ProjectsState.error, ProjectsState.error_field)),
                rx.button(
                    rx.icon("plus", size=16),
                    "Create project",
                    type="submit",
                    width="100%",
                    loading=ProjectsState.creating,
                ),
            ),
            on_submit=ProjectsState.create,
            reset_on_submit=False,
            aria_label="New project",
        ),
        padding="1.25rem",
    )


# -- the inspector of the selected project ----------------------------------------------------


def read_only_note() -> rx.Component:
    return panel(
        rx.text(
            "Your role can see projects but not create or change them (that needs the "
            "govern permission).",
            size="2",
            color=TEXT_SECONDARY,
        ),
        padding="1.25rem",
        id="projects-read-only",
    )


def inspector() -> rx.Component:
    detail = ProjectsState.detail
    return panel(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading(
                        detail.name,
                        as_="h2",
                        size="4",
                        weight="medium",
                        title=detail.name,
                        **clamp(3),
                    ),
                    mono(detail.slug),
                    spacing="1",
                    min_width="0",
                ),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x", size=16),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Close inspector",
                    on_click=ProjectsState.close_inspector,
                ),
                width="100%",
                align="start",
            ),
            facts(
                ("Namespace", mono(detail.namespace)),
                (
                    "Repository",
                    rx.cond(
                        detail.repository_url, rx.text(detail.repository_url), muted("Not set")
                    ),
                ),
                ("Default template", rx.text(detail.default_template)),
                ("Created", rx.text(detail.created_at)),
            ),
            rx.cond(SignInState.can_govern, rx.hstack(edit_dialog(), delete_dialog(), spacing="2")),
            error_callout(ProjectsState.inspector_error),
            fix_link(
                "Show the sandboxes in the way",
                rx.cond(ProjectsState.blocking_count > 0, ProjectsState.blocking_href, ""),
            ),
            usage_section(),
            rx.cond(SignInState.can_audit, activity_section()),
            spacing="3",
            align="stretch",
        ),
        role="region",
        aria_label=f"Project {detail.name}",
        padding="1.25rem",
        # Stays in view beside a long project list; scrolls on its own when taller.
        position="sticky",
        top="1rem",
        max_height="calc(100vh - 2rem)",
        overflow_y="auto",
    )


def usage_section() -> rx.Component:
    detail = ProjectsState.detail
    return section(
        "Usage",
        rx.vstack(
            bar_chart(
                "Sandboxes by status",
                ProjectsState.sandbox_bars,
                summary=detail.sandboxes_summary,
            ),
            rx.cond(detail.cleanup_note, field_hint(detail.cleanup_note)),
            bar_chart("Tasks by outcome", ProjectsState.task_bars, summary=detail.tasks_summary),
            meter(
                "Retained artifacts",
                value=detail.retained,
                width=detail.retained_width,
                note=detail.retained_limit,
                summary=detail.retained_summary,
            ),
            rx.vstack(
                rx.text("Live resource use", size="2", weight="medium"),
                rx.text(detail.live, size="2", color=TEXT_SECONDARY),
                spacing="1",
                aria_label="Live resource use",
                role="group",
            ),
            spacing="4",
            align="stretch",
        ),
    )


def activity_section() -> rx.Component:
    return section(
        "Recent activity",
        recent_events(ProjectsState.recent_events, empty="No events yet."),
        rx.link(
            "All of this project's events",
            rx.icon("arrow-right", size=14),
            href=ProjectsState.detail.audit_href,
            size="2",
            display="inline-flex",
            align_items="center",
            gap="0.25rem",
            margin_top="0.6rem",
        ),
    )


def edit_dialog() -> rx.Component:
    return form_dialog(
        text_field(
            "Name",
            id="edit-project-name",
            error=edit_error("name"),
            value=ProjectsState.edit_name,
            on_change=ProjectsState.set_edit_name,
            required=True,
        ),
        text_field(
            "Repository URL",
            id="edit-project-repository",
            error=edit_error("repository"),
            value=ProjectsState.edit_repository,
            on_change=ProjectsState.set_edit_repository,
            placeholder="https://github.com/acme/payments",
            hint="Leave empty to clear it.",
        ),
        text_field(
            "Default namespace",
            id="edit-project-namespace",
            error=edit_error("namespace"),
            value=ProjectsState.edit_namespace,
            on_change=ProjectsState.set_edit_namespace,
            required=True,
        ),
        select_field(
            "Default template",
            id="edit-project-template",
            value=ProjectsState.edit_template,
            on_change=ProjectsState.set_edit_template,
            groups=[
                ("", ProjectsState.no_template),
                ("This project", ProjectsState.project_templates),
                ("Global", ProjectsState.global_templates),
            ],
            hint=field_hint("Preselected when a sandbox is launched in this project."),
        ),
        icon="pencil",
        trigger="Edit",
        title="Edit project",
        description="The slug stays as it is; everything else can change.",
        submit="Save changes",
        error=unplaced(ProjectsState.edit_error, ProjectsState.error_field),
        busy=ProjectsState.saving,
        on_submit=ProjectsState.save,
        is_open=ProjectsState.edit_open,
        on_open_change=ProjectsState.set_edit_open,
    )


def delete_dialog() -> rx.Component:
    return confirm_delete(
        "Delete",
        variant="soft",
        size="1",
        title="Delete project?",
        description=f"Delete {ProjectsState.detail.name} with its templates, policies and "
        "credentials; its audit events stay. A project that still has sandboxes cannot be "
        "deleted.",
        confirm="Delete project",
        on_confirm=ProjectsState.delete,
    )
