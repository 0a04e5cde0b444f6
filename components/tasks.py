"""Tasks: the run form, the history table, the selected task and its output streams, each
monospaced and staying scrolled to its newest line."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.badges import task_status_badge
from components.feedback import error_callout
from components.forms import (
    code_input,
    error_at,
    field,
    field_error,
    field_hint,
    invalid_props,
    unplaced,
)
from components.runtime import compact_table, refresh_button
from components.tables import muted
from components.theme import (
    CODE_TEXT,
    DASHED_BORDER,
    FRAMED,
    MONO,
    RADIUS,
    TEXT_SECONDARY,
    TEXT_TERTIARY,
)


def output_block(text: rx.Var[str], *, label: str, empty: rx.Var[str] | str) -> rx.Component:
    """A scrollable stream; while it grows it stays at the bottom (a column-reversed
    scroller anchors to its end), `empty` in words when there is nothing."""
    return rx.cond(
        text,
        rx.box(
            rx.el.pre(
                text,
                margin="0",
                white_space="pre-wrap",
                word_break="break-all",
                **CODE_TEXT,
            ),
            role="log",
            aria_label=label,
            tab_index=0,
            display="flex",
            flex_direction="column-reverse",
            max_height="18rem",
            overflow="auto",
            padding="0.75rem 1rem",
            **FRAMED,
        ),
        rx.box(
            rx.text(empty, size="1", color=TEXT_TERTIARY),
            role="log",
            aria_label=label,
            padding="0.6rem 1rem",
            border=DASHED_BORDER,
            border_radius=RADIUS,
        ),
    )


def stream_header(
    name: str, size: rx.Var[str], note: rx.Var[str], *actions: rx.Component
) -> rx.Component:
    """`stdout · 12 B`, a note when only part is shown, and actions on the right."""
    return rx.hstack(
        rx.text(name, size="1", weight="medium", font_family=MONO),
        rx.text(size, size="1", color=TEXT_TERTIARY, font_variant_numeric="tabular-nums"),
        rx.cond(note, rx.text(note, size="1", color=rx.color("amber", 11))),
        rx.spacer(),
        *actions,
        align="center",
        spacing="2",
        width="100%",
        min_height="1.5rem",
    )


def tasks_layout(
    form: rx.Component,
    history: rx.Component,
    detail: rx.Component,
    *,
    error: rx.Var[str],
    has_tasks: rx.Var[bool],
) -> rx.Component:
    """The run form over the history and the selected task, side by side when wide."""
    return rx.vstack(
        form,
        rx.cond(
            error,
            muted(error),
            rx.cond(
                has_tasks,
                rx.grid(
                    history,
                    detail,
                    grid_template_columns=rx.breakpoints(
                        initial="minmax(0, 1fr)", xl="minmax(0, 5fr) minmax(0, 6fr)"
                    ),
                    gap="1rem",
                    align_items="start",
                    width="100%",
                ),
                muted("No tasks yet: commands you run here are listed with their output."),
            ),
        ),
        spacing="4",
        align="stretch",
    )


def run_form(
    *,
    running: rx.Var[bool],
    blocked: rx.Var[str],
    busy: rx.Var[bool],
    error: rx.Var[str],
    error_field: rx.Var[str],
    max_timeout: int,
    on_command_change: rx.EventHandler,
    on_submit: rx.EventHandler,
) -> rx.Component:
    """Command and timeout, enabled only while the sandbox runs (`blocked` says why not).
    The browser checks nothing itself (its own refusals show no words on every browser):
    what is wrong shows in words next to the field it is about, the rest under the form."""
    command_error = error_at(error, error_field, "command")
    timeout_error = error_at(error, error_field, "timeout")
    command = code_input(
        id="task-command",
        name="command",
        placeholder="ls -la",
        on_change=on_command_change,
        **invalid_props("task-command", command_error),
    )
    timeout = rx.input(
        id="task-timeout",
        name="timeout",
        input_mode="numeric",
        default_value="60",
        width="6.5rem",
        **invalid_props("task-timeout", timeout_error),
    )
    return rx.form(
        rx.el.fieldset(
            rx.flex(
                field(
                    "Command",
                    command,
                    field_error("task-command", command_error),
                    html_for="task-command",
                    flex="1",
                    min_width="0",
                ),
                field(
                    "Timeout (s)",
                    timeout,
                    field_hint(f"1 to {max_timeout} s"),
                    field_error("task-timeout", timeout_error),
                    html_for="task-timeout",
                    max_width="11rem",
                ),
                rx.button(
                    rx.icon("play", size=14),
                    "Run",
                    type="submit",
                    loading=busy,
                    disabled=~rx.State.is_hydrated | ~running,
                    margin_top="1.45rem",
                ),
                align="start",
                gap="0.75rem",
                width="100%",
            ),
            disabled=~rx.State.is_hydrated | ~running,
            border="0",
            margin="0",
            padding="0",
            min_width="0",
        ),
        rx.text(
            rx.cond(
                running,
                "Runs with sh -lc in the sandbox's working directory; the output is kept "
                "with the task.",
                blocked,
            ),
            size="1",
            color=TEXT_TERTIARY,
            margin_top="0.4rem",
        ),
        rx.box(error_callout(unplaced(error, error_field)), margin_top="0.5rem"),
        on_submit=on_submit,
        no_validate=True,
        aria_label="Run a command",
        padding="0.875rem 1rem",
        background=rx.color("gray", 2),
        border=f"1px solid {rx.color('gray', 4)}",
        border_radius="0.625rem",
    )


def task_history(
    tasks: rx.Var[list], render_row: Callable[[rx.Var], rx.Component], *, on_refresh
) -> rx.Component:
    """The tasks table under a heading with a Refresh button."""
    return rx.vstack(
        rx.hstack(
            rx.text("History, newest first", size="2", weight="medium"),
            rx.spacer(),
            refresh_button(on_refresh),
            align="center",
            width="100%",
        ),
        rx.box(
            compact_table(
                ["Command", "Status", "Exit", "Duration", "Started"],
                tasks,
                render_row,
                label="Tasks",
                widths=["", "6.5rem", "3rem", "4.5rem", "4.5rem"],
            ),
            max_height=rx.breakpoints(initial="15rem", xl="32rem"),
            overflow_y="auto",
            width="100%",
        ),
        spacing="2",
        align="stretch",
        min_width="0",
    )


def task_row(task: rx.Var, *, selected: rx.Var[bool], on_select: rx.EventSpec) -> rx.Component:
    """One task; the row (and its command, a button for the keyboard) selects it."""
    return rx.table.row(
        rx.table.cell(
            rx.el.button(
                task.command,
                on_click=on_select.stop_propagation,
                title=task.command,
                aria_pressed=selected,
                all="unset",
                display="block",
                width="100%",
                cursor="pointer",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                font_family=MONO,
                font_size="0.75rem",
                _focus_visible={"outline": f"2px solid {rx.color('accent', 8)}"},
            ),
            max_width="0",
        ),
        rx.table.cell(task_status_badge(task.status)),
        rx.table.cell(rx.text(task.exit_code, size="1", font_variant_numeric="tabular-nums")),
        rx.table.cell(
            rx.text(task.duration, size="1", font_variant_numeric="tabular-nums"),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.text(
                task.started, size="1", title=task.started_full, font_variant_numeric="tabular-nums"
            ),
            white_space="nowrap",
        ),
        on_click=on_select,
        cursor="pointer",
        background=rx.cond(selected, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.cond(selected, rx.color("accent", 3), rx.color("gray", 3))},
        align="center",
    )


def task_panel(task: rx.Var, *streams: rx.Component, on_cancel: rx.EventHandler) -> rx.Component:
    """The selected task: status, command, timings, its error, then its output streams."""
    return rx.cond(
        task.id,
        rx.vstack(
            task_summary(task, on_cancel=on_cancel),
            rx.text(
                rx.cond(task.started, "Started " + task.started, "Waiting to start"),
                rx.cond(task.duration, " · ran " + task.duration, ""),
                " · timeout ",
                task.timeout,
                size="1",
                color=TEXT_TERTIARY,
            ),
            rx.cond(
                task.error & ~task.active,
                rx.callout(
                    task.error,
                    icon="info",
                    color_scheme=rx.cond(task.status == "canceled", "gray", "red"),
                    size="1",
                ),
            ),
            *streams,
            spacing="3",
            align="stretch",
            role="region",
            aria_label="Task output",
            padding="0.875rem 1rem 1rem",
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="0.625rem",
            min_width="0",
        ),
        muted("Select a task to see its output."),
    )


def task_summary(task: rx.Var, *, on_cancel: rx.EventHandler) -> rx.Component:
    """Status, exit code and command, with Cancel while the task is active."""
    return rx.flex(
        rx.vstack(
            rx.hstack(
                task_status_badge(task.status, size="2"),
                rx.cond(
                    task.exit_code != "",
                    rx.text("Exit code ", task.exit_code, size="2", weight="medium"),
                ),
                rx.cond(
                    task.canceling,
                    rx.text("Canceling…", size="2", color=TEXT_SECONDARY),
                ),
                spacing="3",
                align="center",
                role="group",
                aria_label="Task status",
            ),
            rx.code(
                task.command,
                variant="ghost",
                size="2",
                word_break="break-all",
                white_space="pre-wrap",
            ),
            spacing="2",
            min_width="0",
            flex="1",
        ),
        rx.cond(
            task.active,
            rx.button(
                rx.icon("circle-stop", size=14),
                "Cancel task",
                on_click=on_cancel,
                disabled=task.canceling,
                variant="soft",
                color_scheme="red",
                size="1",
            ),
        ),
        gap="0.75rem",
        align="start",
        width="100%",
    )


def task_stream(
    name: str,
    label: str,
    view: rx.Var,
    *,
    task_id: rx.Var[str],
    active: rx.Var[bool],
    on_download: rx.EventSpec,
) -> rx.Component:
    """One output stream: header with Download when allowed, the API route when the stream
    is too large for that, then the text."""
    return rx.vstack(
        stream_header(
            name,
            view.size,
            view.partial,
            rx.cond(
                view.downloadable,
                rx.button(
                    rx.icon("download", size=12),
                    "Download",
                    on_click=on_download,
                    variant="ghost",
                    size="1",
                ),
            ),
        ),
        rx.cond(
            view.partial & ~view.downloadable,
            rx.text(
                "The whole stream is too large to download here; with an API token: GET ",
                rx.code("/v1/tasks/" + task_id + "/output?stream=" + name, size="1"),
                size="1",
                color=TEXT_TERTIARY,
            ),
        ),
        output_block(view.text, label=label, empty=rx.cond(active, "Nothing yet.", "No output.")),
        spacing="1",
        align="stretch",
    )
