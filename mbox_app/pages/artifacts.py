"""Artifacts: everything a project's sandboxes kept, deleted sandboxes' included,
filtered by sandbox, task and kind (the filters are in the address)."""

from __future__ import annotations

import reflex as rx

from components.artifacts import PROJECT_HEADERS, project_artifact_row
from components.feedback import empty_state, error_callout
from components.forms import choice_field, panel
from components.tables import data_table
from components.theme import TEXT_SECONDARY
from mbox_app.pages.frame import console_page
from state.artifacts import ArtifactsState

TITLE = "Artifacts"
DESCRIPTION = "What a project's sandboxes kept: retained copies outlive their sandbox."


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            filter_bar(),
            error_callout(ArtifactsState.error),
            rx.cond(ArtifactsState.loaded, artifact_table(), rx.skeleton(height="8rem")),
            spacing="4",
            align="stretch",
        ),
        active="artifacts",
        title=TITLE,
        description=DESCRIPTION,
    )


def _filter(label: str, name: str, options: rx.Var[list]) -> rx.Component:
    return choice_field(
        label,
        id=f"artifacts-{name}",
        value=ArtifactsState.filters[name],
        on_change=lambda value: ArtifactsState.set_filter(name, value),
        options=options,
        width="100%",
        min_width="0",
    )


def filter_bar() -> rx.Component:
    return panel(
        rx.grid(
            choice_field(
                "Project",
                id="artifacts-project",
                value=ArtifactsState.project,
                on_change=ArtifactsState.set_project,
                options=ArtifactsState.projects,
                width="100%",
                min_width="0",
            ),
            _filter("Sandbox", "sandbox", ArtifactsState.sandbox_options),
            _filter("Task", "task", ArtifactsState.task_options),
            _filter("Kind", "kind", ArtifactsState.kind_options),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            gap="0.75rem 1rem",
            width="100%",
        ),
        rx.hstack(
            rx.text(ArtifactsState.count_words, size="1", color=TEXT_SECONDARY),
            rx.spacer(),
            rx.cond(
                ArtifactsState.filtered,
                rx.button(
                    "Clear filters",
                    on_click=ArtifactsState.clear_filters,
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                ),
            ),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Refresh",
                on_click=ArtifactsState.refresh,
                variant="ghost",
                size="1",
                disabled=~rx.State.is_hydrated,
            ),
            align="center",
            width="100%",
            margin_top="0.75rem",
        ),
        role="search",
        aria_label="Filter artifacts",
        padding="1rem 1.25rem",
    )


def artifact_table() -> rx.Component:
    return rx.box(
        data_table(
            PROJECT_HEADERS,
            ArtifactsState.items,
            project_artifact_row,
            label="Artifacts",
            empty=rx.cond(
                ArtifactsState.filtered,
                empty_state(
                    "list-filter",
                    "No artifacts match",
                    "No artifact of this project matches these filters: clear them to see all.",
                ),
                empty_state(
                    "package",
                    "No artifacts yet",
                    "Capture a file from a sandbox's workspace, upload one on its Artifacts "
                    "tab, or run a task that declares artifact paths.",
                ),
            ),
        ),
        overflow_x="auto",
        width="100%",
    )
