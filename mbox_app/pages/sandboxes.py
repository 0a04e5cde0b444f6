"""Sandboxes: every sandbox across projects, a page at a time, with bulk actions; and the
dialog that launches one, showing its plan and preflight before the click."""

from __future__ import annotations

import reflex as rx

from components.badges import status_badge
from components.dialogs import confirm_delete, confirm_dialog, modal_form
from components.feedback import empty_state, error_callout, fix_link, notice_callout
from components.forms import (
    choice_select,
    error_at,
    field_hint,
    hydrated_fieldset,
    panel,
    search_box,
    select_field,
    text_field,
    unplaced,
)
from components.sandboxes import pager, preflight
from components.tables import NAME_WIDTH, clipped, data_table, facts, muted
from components.theme import TEXT_SECONDARY, TEXT_TERTIARY
from mbox_app.pages.frame import console_page
from state.sandboxes import SandboxesState, SandboxItem
from state.sign_in import SignInState

TITLE = "Sandboxes"
DESCRIPTION = "Isolated environments launched from templates, across projects."


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            notice_callout(SandboxesState.notice),
            error_callout(SandboxesState.error),
            fix_link(SandboxesState.fix_words, SandboxesState.fix_href),
            toolbar(),
            selection_bar(),
            sandbox_list(),
            rx.cond(
                SandboxesState.has_previous | SandboxesState.has_next,
                pager(
                    SandboxesState.range_words,
                    has_previous=SandboxesState.has_previous,
                    has_next=SandboxesState.has_next,
                    on_previous=SandboxesState.previous_page,
                    on_next=SandboxesState.next_page,
                    label="Sandbox pages",
                ),
            ),
            spacing="3",
            align="stretch",
        ),
        active="sandboxes",
        title=TITLE,
        description=DESCRIPTION,
    )


def filter_select(
    label: str, value: rx.Var[str], on_change: rx.EventHandler, choices: rx.Var[list]
) -> rx.Component:
    """A compact filter, named `label` for assistive technology."""
    return choice_select(
        value, on_change, choices, aria_label=label, min_width="9rem", max_width="14rem"
    )


def toolbar() -> rx.Component:
    return rx.flex(
        search_box(
            SandboxesState.search,
            SandboxesState.set_search,
            label="Search sandboxes",
            placeholder="Name or slug",
            width="13rem",
        ),
        filter_select(
            "Filter by project",
            SandboxesState.project_filter,
            SandboxesState.set_project_filter,
            SandboxesState.project_choices,
        ),
        filter_select(
            "Filter by status",
            SandboxesState.status_filter,
            SandboxesState.set_status_filter,
            SandboxesState.status_choices,
        ),
        filter_select(
            "Filter by template",
            SandboxesState.template_filter,
            SandboxesState.set_template_filter,
            SandboxesState.template_choices,
        ),
        rx.cond(
            SandboxesState.filtered,
            rx.button(
                "Clear filters",
                variant="ghost",
                color_scheme="gray",
                size="2",
                on_click=SandboxesState.clear_filters,
            ),
        ),
        rx.spacer(),
        rx.cond(SignInState.can_operate, launch_dialog()),
        gap="0.5rem",
        align="center",
        wrap="wrap",
        width="100%",
    )


def selection_bar() -> rx.Component:
    """Select the page, then stop or delete the selection after a confirmation."""
    unavailable = (SandboxesState.selected.length() == 0) | SandboxesState.acting
    return rx.cond(
        (SandboxesState.sandboxes.length() > 0) & SignInState.can_operate,
        rx.hstack(
            rx.checkbox(
                "Select all on this page",
                checked=SandboxesState.page_selected,
                on_change=SandboxesState.toggle_page,
                size="2",
            ),
            rx.text(SandboxesState.selection_words, size="2", color=TEXT_SECONDARY),
            rx.spacer(),
            rx.text(SandboxesState.range_words, size="2", color=TEXT_SECONDARY),
            confirm_dialog(
                rx.button(
                    rx.icon("square", size=14),
                    "Stop selected",
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    disabled=unavailable,
                    loading=SandboxesState.acting,
                ),
                title="Stop these sandboxes?",
                description="Their processes stop; workspaces are kept and they can start again.",
                confirm="Stop sandboxes",
                on_confirm=SandboxesState.stop_selected,
                details=affected_list(),
            ),
            confirm_delete(
                "Delete selected",
                variant="soft",
                size="1",
                disabled=unavailable,
                loading=SandboxesState.acting,
                title="Delete these sandboxes?",
                description="They leave the list and their runtimes are cleaned up. "
                "This cannot be undone.",
                confirm="Delete sandboxes",
                on_confirm=SandboxesState.delete_selected,
                details=affected_list(),
            ),
            align="center",
            spacing="3",
            padding="0 0.25rem",
        ),
    )


def affected_list() -> rx.Component:
    return rx.el.ul(
        rx.foreach(
            SandboxesState.selected_items,
            lambda s: rx.el.li(
                rx.text(s.name, as_="span", weight="medium"),
                rx.text(
                    " — ",
                    s.project_name,
                    " · ",
                    s.status_words,
                    as_="span",
                    color=TEXT_SECONDARY,
                ),
            ),
        ),
        aria_label="Affected sandboxes",
        margin="1rem 0 0",
        padding_left="1.1rem",
        max_height="12rem",
        overflow_y="auto",
        font_size="0.875rem",
    )


def sandbox_list() -> rx.Component:
    return data_table(
        ["Select", "Sandbox", "Project", "Status", "Usage", "Created", "Actions"],
        SandboxesState.sandboxes,
        sandbox_row,
        label="Sandboxes",
        empty=rx.cond(
            SandboxesState.filtered,
            empty_state(
                "search-x",
                "No sandboxes match these filters",
                "Change or clear the filters to see more.",
                rx.button("Clear filters", size="2", on_click=SandboxesState.clear_filters),
            ),
            rx.cond(
                SandboxesState.projects.length() > 0,
                empty_state(
                    "box",
                    "No sandboxes here yet",
                    "Launch one: pick a project and a template; it starts in a moment.",
                ),
                empty_state(
                    "folder-kanban",
                    "Create a project first",
                    "Sandboxes belong to a project, which sets their namespace, policy and quota.",
                    rx.link("Go to Projects", href="/projects", size="2", weight="medium"),
                ),
            ),
        ),
    )


def sandbox_row(sandbox: rx.Var[SandboxItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=SandboxesState.selected.contains(sandbox.id),
                on_change=lambda checked: SandboxesState.toggle(sandbox.id, checked),
                aria_label=f"Select {sandbox.name}",
            ),
            width="2.5rem",
        ),
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(
                    clipped(sandbox.name, width=NAME_WIDTH, weight="medium", size="2"),
                    href=sandbox.href,
                ),
                clipped(sandbox.slug, width=NAME_WIDTH, size="1", color=TEXT_TERTIARY),
                spacing="0",
            ),
        ),
        rx.table.cell(
            rx.vstack(
                clipped(sandbox.project_name, width=NAME_WIDTH, size="2"),
                clipped(
                    sandbox.template_name + " template",
                    width=NAME_WIDTH,
                    size="1",
                    color=TEXT_TERTIARY,
                ),
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
                        color=TEXT_TERTIARY,
                        max_width="12rem",
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                        title=sandbox.status_words,
                    ),
                ),
                spacing="1",
            ),
        ),
        rx.table.cell(
            muted(sandbox.usage),
            title=sandbox.usage_full,
            aria_label=sandbox.usage_full,
            white_space="nowrap",
        ),
        rx.table.cell(muted(sandbox.created), title=sandbox.created_at, white_space="nowrap"),
        rx.table.cell(row_action(sandbox)),
        align="center",
    )


def row_action(sandbox: rx.Var[SandboxItem]) -> rx.Component:
    """Stop what is meant to run; start what is stopped or failed (nothing for a role
    that may not operate sandboxes)."""
    return rx.cond(
        ~SignInState.can_operate,
        muted("—"),
        rx.cond(
            (sandbox.status == "running") | (sandbox.status == "pending"),
            confirm_dialog(
                rx.button(
                    "Stop",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    aria_label=f"Stop {sandbox.name}",
                    disabled=SandboxesState.acting,
                ),
                title=f"Stop {sandbox.name}?",
                description=(
                    "Its processes end and its running tasks are canceled; the workspace "
                    "is kept, and Start runs it again."
                ),
                confirm="Stop sandbox",
                on_confirm=SandboxesState.act("stop", sandbox.id, sandbox.name),
            ),
            rx.button(
                "Start",
                size="1",
                variant="soft",
                aria_label=f"Start {sandbox.name}",
                disabled=SandboxesState.acting,
                on_click=SandboxesState.act("start", sandbox.id, sandbox.name),
            ),
        ),
    )


def launch_dialog() -> rx.Component:
    return modal_form(
        hydrated_fieldset(
            rx.grid(launch_fields(), launch_plan(), columns="2", gap="1.5rem"),
            preflight(
                SandboxesState.plan.blockers,
                ready="Ready to launch: the project's policy and quota allow it.",
                blocked="Launch blocked",
                fix=(SandboxesState.plan.fix_words, SandboxesState.plan.fix_href),
            ),
        ),
        trigger=rx.button(
            rx.icon("rocket", size=16),
            "Launch sandbox",
            disabled=~rx.State.is_hydrated | (SandboxesState.projects.length() == 0),
        ),
        title="Launch sandbox",
        description="The plan shows what will be created, and the preflight whether policy "
        "and quota allow it.",
        submit=rx.button(
            rx.icon("rocket", size=16),
            "Launch",
            type="submit",
            disabled=SandboxesState.blocked,
            loading=SandboxesState.launch_busy,
        ),
        error=unplaced(SandboxesState.launch_error, SandboxesState.error_field),
        on_submit=SandboxesState.create,
        is_open=SandboxesState.launching,
        on_open_change=SandboxesState.set_launching,
        max_width="48rem",
    )


def launch_fields() -> rx.Component:
    return rx.vstack(
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
                error=error_at(SandboxesState.launch_error, SandboxesState.error_field, "name"),
            ),
            field_hint(SandboxesState.name_hint),
            spacing="1",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def launch_plan() -> rx.Component:
    plan = SandboxesState.plan
    return panel(
        rx.heading("Launch plan", as_="h3", size="2", weight="medium", margin_bottom="0.75rem"),
        facts(
            ("Slug", SandboxesState.slug),
            ("Namespace", plan.namespace),
            ("Service account", plan.service_account),
            ("Validation", plan.validation),
            ("Image", plan.image),
            ("Ports", plan.ports),
            ("Size", plan.size),
            ("Template", plan.template_name),
            label="Launch plan",
            stacked=True,
        ),
        padding="1rem",
    )
