"""Sandboxes: every sandbox across projects, and the form that launches one."""

from __future__ import annotations

import reflex as rx

from components.badges import status_badge
from components.feedback import empty_state, error_callout, notice_callout
from components.forms import (
    field_hint,
    field_label,
    hydrated_fieldset,
    panel,
    select_field,
    text_field,
)
from components.shell import shell
from components.tables import data_table, muted
from state.sandboxes import SandboxesState, SandboxItem

TITLE = "Sandboxes"
DESCRIPTION = "Isolated environments launched from templates, across projects."


def page() -> rx.Component:
    return shell(
        notice_callout(SandboxesState.notice),
        rx.grid(
            rx.vstack(toolbar(), sandbox_list(), spacing="3", align="stretch", min_width="0"),
            launch_form(),
            columns=rx.breakpoints(initial="1", lg="minmax(0, 1fr) 20rem"),
            gap="1.5rem",
            align_items="start",
            margin_top=rx.cond(SandboxesState.notice, "1rem", "0"),
        ),
        active="sandboxes",
        title=TITLE,
        description=DESCRIPTION,
    )


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.text(
            SandboxesState.visible.length(),
            rx.cond(SandboxesState.visible.length() == 1, " sandbox", " sandboxes"),
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.spacer(),
        rx.hstack(
            field_label("Show", html_for="sandbox-filter"),
            rx.select.root(
                rx.select.trigger(
                    id="sandbox-filter", aria_label="Filter by project", min_width="12rem"
                ),
                rx.select.content(
                    rx.foreach(
                        SandboxesState.filter_choices,
                        lambda c: rx.select.item(c.label, value=c.value),
                    )
                ),
                value=SandboxesState.project_filter,
                on_change=SandboxesState.set_project_filter,
                size="2",
            ),
            align="center",
            spacing="2",
        ),
        align="center",
        width="100%",
    )


def sandbox_list() -> rx.Component:
    return data_table(
        ["Sandbox", "Project", "Status", "Created"],
        SandboxesState.visible,
        sandbox_row,
        label="Sandboxes",
        empty=rx.cond(
            SandboxesState.projects.length() > 0,
            empty_state(
                "box",
                "No sandboxes here yet",
                "Launch one with the form: pick a project and a template; it starts in a moment.",
            ),
            empty_state(
                "folder-kanban",
                "Create a project first",
                "Sandboxes belong to a project, which sets their namespace, policy and quota.",
                rx.link("Go to Projects", href="/projects", size="2", weight="medium"),
            ),
        ),
    )


def sandbox_row(sandbox: rx.Var[SandboxItem]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(sandbox.name, href=sandbox.href, weight="medium", size="2"),
                rx.text(sandbox.slug, size="1", color=rx.color("gray", 10)),
                spacing="0",
            ),
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(sandbox.project_name, size="2"),
                rx.text(sandbox.template_name, " template", size="1", color=rx.color("gray", 10)),
                spacing="0",
            ),
        ),
        rx.table.cell(
            rx.vstack(
                status_badge(sandbox.status, size="1"),
                rx.cond(
                    sandbox.status_words.lower() != sandbox.status,
                    rx.text(
                        sandbox.status_words,
                        size="1",
                        color=rx.color("gray", 10),
                        max_width="10rem",
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                        title=sandbox.status_words,
                    ),
                ),
                spacing="1",
            ),
        ),
        rx.table.cell(muted(sandbox.created), title=sandbox.created_at, white_space="nowrap"),
        align="center",
    )


def launch_form() -> rx.Component:
    return panel(
        rx.form(
            hydrated_fieldset(
                rx.heading("Launch sandbox", as_="h2", size="3", weight="medium"),
                select_field(
                    "Project",
                    id="sandbox-project",
                    value=SandboxesState.project_id,
                    on_change=SandboxesState.set_project_id,
                    groups=[("", SandboxesState.projects)],
                    placeholder="Choose a project",
                ),
                select_field(
                    "Template",
                    id="sandbox-template",
                    value=SandboxesState.template_id,
                    on_change=SandboxesState.set_template_id,
                    groups=[
                        ("This project", SandboxesState.project_templates),
                        ("Global", SandboxesState.global_templates),
                    ],
                    placeholder="Choose a template",
                    hint=rx.cond(
                        SandboxesState.default_template_id,
                        field_hint("The project's default template is preselected."),
                    ),
                ),
                rx.vstack(
                    text_field(
                        "Name",
                        id="sandbox-name",
                        value=SandboxesState.name,
                        on_change=SandboxesState.set_name,
                        placeholder=SandboxesState.suggested_name,
                    ),
                    field_hint(SandboxesState.name_hint),
                    spacing="1",
                    width="100%",
                ),
                error_callout(SandboxesState.error),
                rx.button(
                    rx.icon("rocket", size=16),
                    "Launch sandbox",
                    type="submit",
                    width="100%",
                    disabled=SandboxesState.projects.length() == 0,
                ),
            ),
            on_submit=SandboxesState.create,
            reset_on_submit=False,
            aria_label="Launch sandbox",
        ),
        padding="1.25rem",
    )
