"""One sandbox: status and actions, start-up timings, lifetime, runtime, logs and events,
tasks (run a command, follow its output) and workspace files."""

from __future__ import annotations

import reflex as rx

from components.badges import event_type_badge, status_badge, task_status_badge
from components.dialogs import confirm_dialog
from components.feedback import empty_state, error_callout, notice_callout
from components.files import breadcrumbs, file_icon
from components.forms import panel
from components.runtime import compact_table, log_view
from components.shell import shell
from components.tables import mono, muted
from components.tasks import MONO, output_block, stream_header
from state.sandbox import EventItem, Phase, PortItem, SandboxState
from state.sandbox_files import FileItem
from state.sandbox_tasks import MAX_TIMEOUT, TaskItem

ROUTE = "/sandboxes/[sandbox_id]"


def page() -> rx.Component:
    return shell(
        back_link(),
        rx.cond(
            SandboxState.missing,
            unavailable(),
            rx.cond(SandboxState.loaded, detail(), loading()),
        ),
        active="sandboxes",
        title=SandboxState.heading,
        description=SandboxState.subheading,
    )


def back_link() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("arrow-left", size=14), "All sandboxes", spacing="1", align="center"),
        href="/sandboxes",
        size="2",
        color=rx.color("gray", 11),
        underline="hover",
        display="inline-block",
        margin_bottom="1rem",
    )


def loading() -> rx.Component:
    return rx.vstack(
        rx.skeleton(height="4.5rem", width="100%"),
        rx.skeleton(height="9rem", width="100%"),
        spacing="4",
        aria_busy="true",
    )


def unavailable() -> rx.Component:
    return empty_state(
        "box",
        "Sandbox unavailable",
        "There is no sandbox at this address: it was deleted, or the link is wrong.",
        rx.link("Back to Sandboxes", href="/sandboxes", size="2", weight="medium"),
    )


def detail() -> rx.Component:
    return rx.vstack(
        status_bar(),
        error_callout(SandboxState.error),
        notice_callout(SandboxState.notice),
        overview(),
        runtime_tabs(),
        spacing="4",
        align="stretch",
    )


# -- status and actions ---------------------------------------------------------------


def status_bar() -> rx.Component:
    view = SandboxState.view
    return panel(
        rx.flex(
            rx.flex(
                status_badge(view.status, size="3"),
                rx.text(view.headline, size="3", weight="medium", min_width="0"),
                role="group",
                aria_label="Sandbox status",
                align="center",
                gap="0.75rem",
                flex="1",
                min_width="0",
            ),
            actions(),
            align="center",
            gap="1rem",
            width="100%",
        ),
        padding="1rem 1.25rem",
    )


def actions() -> rx.Component:
    view = SandboxState.view
    disabled = ~rx.State.is_hydrated | SandboxState.busy
    return rx.hstack(
        rx.cond(
            view.can_stop,
            rx.button(
                rx.icon("square", size=14),
                "Stop",
                on_click=SandboxState.stop,
                disabled=disabled,
                variant="soft",
                color_scheme="gray",
            ),
        ),
        rx.cond(
            view.can_start,
            rx.button(
                rx.icon("play", size=14), "Start", on_click=SandboxState.start, disabled=disabled
            ),
        ),
        rx.cond(
            view.can_renew,
            rx.button(
                rx.icon("timer-reset", size=14),
                "Renew lease",
                on_click=SandboxState.renew,
                disabled=disabled,
                variant="soft",
                color_scheme="gray",
            ),
        ),
        confirm_dialog(
            rx.button(
                rx.icon("trash-2", size=14),
                "Delete",
                disabled=disabled,
                variant="soft",
                color_scheme="red",
            ),
            title="Delete this sandbox?",
            description=rx.text(
                "Every process stops and the workspace is removed. The record stays in the "
                "audit trail. This cannot be undone."
            ),
            details=delete_details(),
            confirm="Delete sandbox",
            on_confirm=SandboxState.delete,
        ),
        spacing="2",
        align="center",
        flex_shrink="0",
    )


def delete_details() -> rx.Component:
    view = SandboxState.view
    return rx.data_list.root(
        rx.data_list.item(rx.data_list.label("Sandbox"), rx.data_list.value(view.name)),
        rx.data_list.item(rx.data_list.label("Project"), rx.data_list.value(view.project_name)),
        rx.data_list.item(
            rx.data_list.label("Runtime"),
            rx.data_list.value(rx.cond(view.runtime_ref, view.runtime_ref, "None yet")),
        ),
        size="2",
        margin_top="1rem",
    )


# -- overview -------------------------------------------------------------------------


def overview() -> rx.Component:
    return rx.grid(
        startup_card(),
        lifetime_card(),
        runtime_card(),
        columns=rx.breakpoints(initial="1", md="3"),
        gap="1rem",
    )


def card(title: str, icon: str, *children: rx.Component) -> rx.Component:
    return panel(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=15, color=rx.color("gray", 10)),
                rx.heading(title, as_="h2", size="2", weight="medium", color=rx.color("gray", 11)),
                spacing="2",
                align="center",
            ),
            *children,
            spacing="3",
            align="stretch",
        ),
        padding="1rem 1.25rem",
        height="100%",
        role="region",
        aria_label=title,
    )


def startup_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Start-up",
        "timer",
        rx.text(
            rx.cond(view.startup, view.startup, "Not started"),
            size="5",
            weight="bold",
        ),
        rx.cond(
            SandboxState.phases.length() > 0,
            rx.vstack(rx.foreach(SandboxState.phases, phase_row), spacing="1", align="stretch"),
        ),
    )


def phase_row(phase: rx.Var[Phase]) -> rx.Component:
    return rx.hstack(
        rx.text(phase.label, size="1", color=rx.color("gray", 11)),
        rx.spacer(),
        rx.text(phase.delta, size="1", weight="medium", font_variant_numeric="tabular-nums"),
        rx.text(
            phase.at,
            size="1",
            color=rx.color("gray", 10),
            title=phase.at_full,
            font_variant_numeric="tabular-nums",
            min_width="3.75rem",
            text_align="right",
        ),
        spacing="2",
        align="center",
        border_top=f"1px solid {rx.color('gray', 4)}",
        padding_top="0.25rem",
    )


def lifetime_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Lifetime",
        "hourglass",
        rx.vstack(
            rx.text(view.lease, size="5", weight="bold"),
            rx.text(view.lease_detail, size="1", color=rx.color("gray", 10)),
            spacing="1",
        ),
        rx.text(view.idle, size="2", color=rx.color("gray", 11)),
        rx.text("Created ", view.created_at, size="1", color=rx.color("gray", 10)),
    )


def runtime_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Runtime",
        "server",
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Reference"),
                rx.data_list.value(
                    rx.cond(view.runtime_ref, mono(view.runtime_ref), muted("None yet"))
                ),
            ),
            rx.data_list.item(
                rx.data_list.label("Placement"),
                rx.data_list.value(mono(view.namespace + " · " + view.service_account)),
            ),
            rx.data_list.item(
                rx.data_list.label("Ports"),
                rx.data_list.value(
                    rx.cond(
                        SandboxState.ports.length() > 0,
                        rx.hstack(rx.foreach(SandboxState.ports, port_badge), wrap="wrap"),
                        muted("None declared"),
                    )
                ),
            ),
            size="1",
            orientation="vertical",
            gap="0.6rem",
        ),
    )


def port_badge(port: rx.Var[PortItem]) -> rx.Component:
    return rx.badge(port.name, " :", port.port, " ", port.protocol, variant="surface", size="1")


# -- logs, events, tasks and files -----------------------------------------------------


def runtime_tabs() -> rx.Component:
    return panel(
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Logs", value="logs"),
                rx.tabs.trigger("Events", value="events"),
                rx.tabs.trigger("Tasks", value="tasks"),
                rx.tabs.trigger("Files", value="files"),
                padding_x="0.75rem",
            ),
            rx.tabs.content(logs_tab(), value="logs", padding="1rem 1.25rem 1.25rem"),
            rx.tabs.content(events_tab(), value="events", padding="1rem 1.25rem 1.25rem"),
            rx.tabs.content(tasks_tab(), value="tasks", padding="1rem 1.25rem 1.25rem"),
            rx.tabs.content(files_tab(), value="files", padding="1rem 1.25rem 1.25rem"),
            value=SandboxState.tab,
            on_change=SandboxState.set_tab,
        ),
    )


def tab_head(text: str) -> rx.Component:
    return rx.hstack(
        rx.text(text, size="2", color=rx.color("gray", 11)),
        rx.spacer(),
        rx.button(
            rx.icon("refresh-cw", size=14),
            "Refresh",
            on_click=SandboxState.refresh_tab,
            variant="ghost",
            size="1",
            disabled=~rx.State.is_hydrated,
        ),
        align="center",
        width="100%",
        margin_bottom="0.75rem",
    )


def logs_tab() -> rx.Component:
    return rx.box(
        tab_head("The last 200 lines the sandbox wrote, refreshed every few seconds."),
        rx.cond(
            SandboxState.logs_error,
            muted(SandboxState.logs_error),
            log_view(SandboxState.logs, label="Sandbox log", empty="No output yet."),
        ),
    )


def events_tab() -> rx.Component:
    return rx.box(
        tab_head("What the runtime did with this sandbox, newest first."),
        rx.cond(
            SandboxState.events_error,
            muted(SandboxState.events_error),
            rx.cond(
                SandboxState.events.length() > 0,
                compact_table(
                    ["Time", "Type", "Reason", "Message"],
                    SandboxState.events,
                    event_row,
                    label="Runtime events",
                    widths=["6rem", "7rem", "9rem", ""],
                ),
                muted("No events yet."),
            ),
        ),
    )


def event_row(event: rx.Var[EventItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(event.time, size="1", title=event.at, font_variant_numeric="tabular-nums"),
            white_space="nowrap",
        ),
        rx.table.cell(event_type_badge(event.type)),
        rx.table.cell(rx.text(event.reason, size="1", weight="medium"), white_space="nowrap"),
        rx.table.cell(rx.text(event.message, size="1", word_break="break-word")),
        align="center",
    )


# -- tasks ----------------------------------------------------------------------------


def tasks_tab() -> rx.Component:
    return rx.vstack(
        run_form(),
        rx.cond(
            SandboxState.tasks_error,
            muted(SandboxState.tasks_error),
            rx.cond(
                SandboxState.tasks.length() > 0,
                rx.grid(
                    task_history(),
                    task_panel(),
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


def run_form() -> rx.Component:
    running = SandboxState.view.status == "running"
    return rx.form(
        rx.el.fieldset(
            rx.flex(
                rx.vstack(
                    rx.el.label(
                        "Command", html_for="task-command", font_size="0.8125rem", font_weight="500"
                    ),
                    rx.input(
                        id="task-command",
                        name="command",
                        on_change=SandboxState.clear_task_error.debounce(300),
                        placeholder="ls -la",
                        font_family=MONO,
                        autocomplete="off",
                        spellcheck=False,
                        width="100%",
                    ),
                    spacing="1",
                    flex="1",
                    min_width="0",
                ),
                rx.vstack(
                    rx.el.label(
                        "Timeout (s)",
                        html_for="task-timeout",
                        font_size="0.8125rem",
                        font_weight="500",
                    ),
                    rx.input(
                        id="task-timeout",
                        name="timeout",
                        type="number",
                        min=1,
                        max=MAX_TIMEOUT,
                        default_value="60",
                        width="6.5rem",
                    ),
                    spacing="1",
                ),
                rx.button(
                    rx.icon("play", size=14),
                    "Run",
                    type="submit",
                    loading=SandboxState.task_busy,
                    disabled=~rx.State.is_hydrated | ~running,
                ),
                align="end",
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
                run_blocked(),
            ),
            size="1",
            color=rx.color("gray", 10),
            margin_top="0.4rem",
        ),
        rx.box(error_callout(SandboxState.task_error), margin_top="0.5rem"),
        on_submit=SandboxState.run_task,
        aria_label="Run a command",
        padding="0.875rem 1rem",
        background=rx.color("gray", 2),
        border=f"1px solid {rx.color('gray', 4)}",
        border_radius="0.625rem",
    )


def run_blocked() -> rx.Var[str]:
    """Why the form is disabled, in words."""
    return rx.match(
        SandboxState.view.status,
        ("pending", "The sandbox is starting: commands can run once it is running."),
        ("stopped", "The sandbox is stopped: start it to run commands."),
        ("failed", "The sandbox failed: start it again to run commands."),
        "Commands run only while the sandbox is running.",
    )


def task_history() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("History, newest first", size="2", weight="medium"),
            rx.spacer(),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Refresh",
                on_click=SandboxState.refresh_tab,
                variant="ghost",
                size="1",
                disabled=~rx.State.is_hydrated,
            ),
            align="center",
            width="100%",
        ),
        rx.box(
            compact_table(
                ["Command", "Status", "Exit", "Duration", "Started"],
                SandboxState.tasks,
                task_row,
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


def task_row(task: rx.Var[TaskItem]) -> rx.Component:
    selected = task.id == SandboxState.task.id
    return rx.table.row(
        rx.table.cell(
            rx.el.button(
                task.command,
                on_click=SandboxState.select_task(task.id).stop_propagation,
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
        on_click=SandboxState.select_task(task.id),
        cursor="pointer",
        background=rx.cond(selected, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.cond(selected, rx.color("accent", 3), rx.color("gray", 3))},
        align="center",
    )


def task_panel() -> rx.Component:
    task = SandboxState.task
    return rx.cond(
        task.id,
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        task_status_badge(task.status, size="2"),
                        rx.cond(
                            task.exit_code != "",
                            rx.text("Exit code ", task.exit_code, size="2", weight="medium"),
                        ),
                        rx.cond(
                            task.canceling,
                            rx.text("Canceling…", size="2", color=rx.color("gray", 11)),
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
                        on_click=SandboxState.cancel_selected_task,
                        disabled=task.canceling,
                        variant="soft",
                        color_scheme="red",
                        size="1",
                    ),
                ),
                gap="0.75rem",
                align="start",
                width="100%",
            ),
            rx.text(
                rx.cond(task.started, "Started " + task.started, "Waiting to start"),
                rx.cond(task.duration, " · ran " + task.duration, ""),
                " · timeout ",
                task.timeout,
                size="1",
                color=rx.color("gray", 10),
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
            stream("stdout", "Standard output", task.stdout),
            stream("stderr", "Standard error", task.stderr),
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


def stream(name: str, label: str, view: rx.Var) -> rx.Component:
    task = SandboxState.task
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
                    on_click=SandboxState.download_output(name),
                    variant="ghost",
                    size="1",
                ),
            ),
        ),
        rx.cond(
            view.partial & ~view.downloadable,
            rx.text(
                "The whole stream is too large to download here; with an API token: GET ",
                rx.code("/v1/tasks/" + task.id + "/output?stream=" + name, size="1"),
                size="1",
                color=rx.color("gray", 10),
            ),
        ),
        output_block(
            view.text,
            label=label,
            empty=rx.cond(task.active, "Nothing yet.", "No output."),
        ),
        spacing="1",
        align="stretch",
    )


# -- files ----------------------------------------------------------------------------


def files_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            breadcrumbs(SandboxState.crumbs, SandboxState.open_folder, label="Folder"),
            rx.spacer(),
            new_file_dialog(),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Refresh",
                on_click=SandboxState.refresh_files,
                variant="ghost",
                size="1",
                disabled=~rx.State.is_hydrated,
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        error_callout(SandboxState.files_error),
        notice_callout(SandboxState.files_notice),
        rx.cond(
            SandboxState.file.kind,
            file_viewer(),
            rx.cond(SandboxState.files_loaded, file_listing(), rx.skeleton(height="6rem")),
        ),
        spacing="3",
        align="stretch",
    )


def file_listing() -> rx.Component:
    return rx.cond(
        SandboxState.files.length() > 0,
        compact_table(
            ["Name", "Size", "Modified", ""],
            SandboxState.files,
            file_row,
            label="Files",
            widths=["", "6rem", "9.5rem", "3rem"],
        ),
        rx.cond(
            SandboxState.files_error,
            rx.fragment(),
            muted(
                rx.cond(
                    SandboxState.files_path,
                    "This folder is empty.",
                    "The workspace is empty: create a file, or run a command that writes one.",
                )
            ),
        ),
    )


def file_row(item: rx.Var[FileItem]) -> rx.Component:
    is_dir = item.type == "directory"
    return rx.table.row(
        rx.table.cell(
            rx.el.button(
                rx.hstack(
                    file_icon(item.type),
                    rx.text(
                        item.name,
                        size="2",
                        weight=rx.cond(is_dir, "medium", "regular"),
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                    ),
                    spacing="2",
                    align="center",
                ),
                on_click=SandboxState.open_entry(item.path, item.type, item.bytes).stop_propagation,
                aria_label=rx.cond(is_dir, "Open folder " + item.name, "View " + item.name),
                all="unset",
                display="block",
                width="100%",
                cursor="pointer",
                _focus_visible={"outline": f"2px solid {rx.color('accent', 8)}"},
            ),
            max_width="0",
        ),
        rx.table.cell(
            rx.text(
                item.size, size="1", font_variant_numeric="tabular-nums", color=rx.color("gray", 11)
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.text(
                item.modified,
                size="1",
                title=item.modified_full,
                font_variant_numeric="tabular-nums",
                color=rx.color("gray", 11),
            ),
            white_space="nowrap",
        ),
        rx.table.cell(delete_entry(item), on_click=rx.stop_propagation),
        on_click=SandboxState.open_entry(item.path, item.type, item.bytes),
        cursor="pointer",
        _hover={"background": rx.color("gray", 3)},
        align="center",
    )


def delete_entry(item: rx.Var[FileItem]) -> rx.Component:
    is_dir = item.type == "directory"
    return confirm_dialog(
        rx.icon_button(
            rx.icon("trash-2", size=14),
            aria_label="Delete " + item.name,
            title="Delete",
            variant="ghost",
            color_scheme="red",
            size="1",
            disabled=SandboxState.files_busy,
        ),
        title="Delete from the workspace?",
        description=rx.text(
            rx.code(item.path, variant="ghost"),
            rx.cond(
                is_dir,
                " and everything in it will be deleted. This cannot be undone.",
                " will be deleted. This cannot be undone.",
            ),
        ),
        confirm="Delete",
        on_confirm=SandboxState.delete_entry(item.path),
    )


def file_viewer() -> rx.Component:
    file = SandboxState.file
    return rx.vstack(
        rx.hstack(
            file_icon("file"),
            rx.text(file.name, size="2", weight="medium"),
            rx.text(file.size, size="1", color=rx.color("gray", 10)),
            rx.spacer(),
            rx.cond(
                file.downloadable,
                rx.button(
                    rx.icon("download", size=14),
                    "Download",
                    on_click=SandboxState.download_file(file.path),
                    variant="ghost",
                    size="1",
                ),
            ),
            rx.button(
                rx.icon("x", size=14),
                "Close",
                on_click=SandboxState.close_file,
                variant="ghost",
                size="1",
                color_scheme="gray",
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        rx.match(
            file.kind,
            ("text", log_view(file.text, label="File content", empty="This file is empty.")),
            ("binary", muted("Binary file, " + file.size + ": not shown here.")),
            muted("This file is " + file.size + ", more than 1 MiB: not shown here."),
        ),
        spacing="2",
        align="stretch",
        role="region",
        aria_label="File " + file.name,
    )


def new_file_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("file-plus", size=14),
                "New file",
                variant="soft",
                size="1",
                disabled=~rx.State.is_hydrated,
            )
        ),
        rx.dialog.content(
            rx.dialog.title("New file"),
            rx.dialog.description(
                "Written to the workspace as the sandbox's user; missing folders are created "
                "and an existing file is replaced.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.form(
                rx.vstack(
                    rx.vstack(
                        rx.el.label(
                            "Path",
                            html_for="new-file-path",
                            font_size="0.8125rem",
                            font_weight="500",
                        ),
                        rx.input(
                            id="new-file-path",
                            name="path",
                            default_value=SandboxState.new_file_folder,
                            placeholder="notes/todo.txt",
                            font_family=MONO,
                            autocomplete="off",
                            spellcheck=False,
                            width="100%",
                        ),
                        rx.text("Relative to the workspace.", size="1", color=rx.color("gray", 10)),
                        spacing="1",
                        width="100%",
                    ),
                    rx.vstack(
                        rx.el.label(
                            "Content",
                            html_for="new-file-content",
                            font_size="0.8125rem",
                            font_weight="500",
                        ),
                        rx.text_area(
                            id="new-file-content",
                            name="content",
                            rows="8",
                            font_family=MONO,
                            spellcheck=False,
                            width="100%",
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    error_callout(SandboxState.new_file_error),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save", type="submit", loading=SandboxState.files_busy),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="4",
                    margin_top="1rem",
                ),
                on_submit=SandboxState.save_new_file,
            ),
            max_width="34rem",
        ),
        open=SandboxState.new_file_open,
        on_open_change=SandboxState.set_new_file_open,
    )
