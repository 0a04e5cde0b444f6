"""One sandbox: status and actions, start-up timings, lifetime, runtime, and tabs: a
terminal (first, and shown at once while the sandbox runs), previews of its ports, tasks
(run a command, follow its output), workspace files, artifacts (what it kept), logs and
events, its sessions, and its boundary (what it may reach, what is enforced)."""

from __future__ import annotations

import reflex as rx

from components import artifacts, boundary, files, preview, sessions, tasks, terminal
from components.badges import event_type_badge, status_badge
from components.dialogs import confirm_dialog
from components.feedback import empty_state, error_callout, notice_callout
from components.forms import panel
from components.runtime import compact_table, log_view, tab_intro
from components.tables import mono, muted
from mbox_app.pages.frame import console_page
from state.sandbox import Phase, PortItem, SandboxState
from state.sandbox_artifacts import ALL_TASKS, CAPTURE_KINDS, UPLOAD_ID, ArtifactItem, ArtifactsTab
from state.sandbox_boundary import BoundaryTab
from state.sandbox_events import EventItem, EventsTab
from state.sandbox_files import FileItem, FilesTab
from state.sandbox_logs import LogsTab
from state.sandbox_preview import EXPIRIES, LinkItem, PreviewPortItem, PreviewTab
from state.sandbox_sessions import SessionItem, SessionsTab
from state.sandbox_tasks import MAX_TIMEOUT, TaskItem, TasksTab
from state.sandbox_terminal import TerminalTab

ROUTE = "/sandboxes/[sandbox_id]"


def page() -> rx.Component:
    return console_page(
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
        rx.cond(SandboxState.view.validates, validation_run()),
        overview(),
        runtime_tabs(),
        spacing="4",
        align="stretch",
    )


def validation_run() -> rx.Component:
    """A template's validation run: try the sandbox, then record the verdict here (the
    template's card shows it too)."""
    view = SandboxState.view
    return rx.callout.root(
        rx.callout.icon(rx.icon("flask-conical", size=16)),
        rx.flex(
            rx.callout.text(
                rx.cond(
                    view.verdict == "testing",
                    rx.fragment(
                        "Validation run of the ",
                        rx.text.strong(view.template_name),
                        " template: try it, then record whether it works.",
                    ),
                    rx.fragment(
                        "Validation run of the ",
                        rx.text.strong(view.template_name),
                        " template: marked ",
                        rx.text.strong(view.verdict),
                        ".",
                    ),
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("check", size=14),
                    "Mark passed",
                    on_click=SandboxState.decide("passed"),
                    color_scheme="green",
                    variant=rx.cond(view.verdict == "passed", "solid", "soft"),
                    size="1",
                ),
                rx.button(
                    rx.icon("x", size=14),
                    "Mark failed",
                    on_click=SandboxState.decide("failed"),
                    color_scheme="red",
                    variant=rx.cond(view.verdict == "failed", "solid", "soft"),
                    size="1",
                ),
                spacing="2",
            ),
            justify="between",
            align="center",
            gap="1rem",
            wrap="wrap",
            width="100%",
        ),
        color_scheme="blue",
        role="region",
        aria_label="Validation run",
        size="1",
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


# -- the tabs -------------------------------------------------------------------------

TAB_PADDING = "1rem 1.25rem 1.25rem"


def runtime_tabs() -> rx.Component:
    return panel(
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Terminal", value="terminal"),
                rx.tabs.trigger("Preview", value="preview"),
                rx.tabs.trigger("Tasks", value="tasks"),
                rx.tabs.trigger("Files", value="files"),
                rx.tabs.trigger("Artifacts", value="artifacts"),
                rx.tabs.trigger("Logs", value="logs"),
                rx.tabs.trigger("Events", value="events"),
                rx.tabs.trigger("Sessions", value="sessions"),
                rx.tabs.trigger("Boundary", value="boundary"),
                padding_x="0.75rem",
                overflow_x="auto",
            ),
            # Kept mounted while another tab shows, so the terminal stays connected.
            rx.tabs.content(
                terminal_tab(),
                value="terminal",
                force_mount=True,
                padding=TAB_PADDING,
                style={"&[data-state='inactive']": {"display": "none"}},
            ),
            rx.tabs.content(preview_tab(), value="preview", padding=TAB_PADDING),
            rx.tabs.content(tasks_tab(), value="tasks", padding=TAB_PADDING),
            rx.tabs.content(files_tab(), value="files", padding=TAB_PADDING),
            rx.tabs.content(artifacts_tab(), value="artifacts", padding=TAB_PADDING),
            rx.tabs.content(logs_tab(), value="logs", padding=TAB_PADDING),
            rx.tabs.content(events_tab(), value="events", padding=TAB_PADDING),
            rx.tabs.content(sessions_tab(), value="sessions", padding=TAB_PADDING),
            rx.tabs.content(boundary_tab(), value="boundary", padding=TAB_PADDING),
            value=SandboxState.tab,
            on_change=SandboxState.set_tab,
        ),
    )


def tab_head(text: str) -> rx.Component:
    return tab_intro(text, on_refresh=SandboxState.refresh_tab, margin_bottom="0.75rem")


# -- terminal -------------------------------------------------------------------------


def terminal_tab() -> rx.Component:
    running = SandboxState.view.status == "running"
    return rx.cond(
        running & (TerminalTab.term_id != "") & rx.State.is_hydrated,
        terminal.terminal_layout(
            terminal_toolbar(),
            terminal.terminal_screen(
                TerminalTab.term_id,
                retry_ms=TerminalTab.term_retry_ms,
                on_ready=TerminalTab.terminal_ready,
                on_open=TerminalTab.terminal_opened,
                on_close=TerminalTab.terminal_closed,
                on_error=TerminalTab.terminal_failed,
            ),
            terminal.paste_form(
                on_submit=TerminalTab.paste_text,
                on_clipboard=TerminalTab.paste_clipboard,
                connected=TerminalTab.term_status == "connected",
            ),
            detail=TerminalTab.term_detail,
            error=TerminalTab.error,
            notice=TerminalTab.notice,
        ),
        terminal.terminal_unavailable(rx.cond(running, "Opening a terminal…", terminal_blocked())),
    )


def terminal_toolbar() -> rx.Component:
    return terminal.terminal_toolbar(
        TerminalTab.term_status,
        TerminalTab.term_short,
        live=TerminalTab.term_live,
        on_connect=TerminalTab.connect_terminal,
        on_disconnect=TerminalTab.disconnect_terminal,
        on_new=TerminalTab.new_terminal,
        on_copy=TerminalTab.copy_selection,
        on_take_control=TerminalTab.take_control,
    )


def terminal_blocked() -> rx.Var[str]:
    """Why there is no terminal, in words."""
    return rx.match(
        SandboxState.view.status,
        ("pending", "The sandbox is starting: its terminal opens once it is running."),
        ("stopped", "The sandbox is stopped: start it to open a terminal."),
        ("failed", "The sandbox failed: start it again to open a terminal."),
        "A terminal opens only while the sandbox is running.",
    )


# -- logs and events ------------------------------------------------------------------


def logs_tab() -> rx.Component:
    return rx.box(
        tab_head("The last 200 lines the sandbox wrote, refreshed every few seconds."),
        rx.cond(
            LogsTab.error,
            muted(LogsTab.error),
            log_view(LogsTab.logs, label="Sandbox log", empty="No output yet."),
        ),
    )


def events_tab() -> rx.Component:
    return rx.box(
        tab_head("What the runtime did with this sandbox, newest first."),
        rx.cond(
            EventsTab.error,
            muted(EventsTab.error),
            rx.cond(
                EventsTab.events.length() > 0,
                compact_table(
                    ["Time", "Type", "Reason", "Message"],
                    EventsTab.events,
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
    return tasks.tasks_layout(
        run_form(),
        tasks.task_history(TasksTab.tasks, task_row, on_refresh=SandboxState.refresh_tab),
        task_panel(),
        error=TasksTab.tasks_error,
        has_tasks=TasksTab.tasks.length() > 0,
    )


def run_form() -> rx.Component:
    return tasks.run_form(
        running=SandboxState.view.status == "running",
        blocked=run_blocked(),
        busy=TasksTab.busy,
        error=TasksTab.error,
        max_timeout=MAX_TIMEOUT,
        on_command_change=TasksTab.clear_task_error.debounce(300),
        on_submit=TasksTab.run_task,
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


def task_row(task: rx.Var[TaskItem]) -> rx.Component:
    return tasks.task_row(
        task,
        selected=task.id == TasksTab.task.id,
        on_select=TasksTab.select_task(task.id),
    )


def task_panel() -> rx.Component:
    return tasks.task_panel(
        TasksTab.task,
        task_stream("stdout", "Standard output", TasksTab.task.stdout),
        task_stream("stderr", "Standard error", TasksTab.task.stderr),
        on_cancel=TasksTab.cancel_selected_task,
    )


def task_stream(name: str, label: str, view: rx.Var) -> rx.Component:
    task = TasksTab.task
    return tasks.task_stream(
        name,
        label,
        view,
        task_id=task.id,
        active=task.active,
        on_download=TasksTab.download_output(name),
    )


# -- files ----------------------------------------------------------------------------


def files_tab() -> rx.Component:
    return files.files_layout(
        files.breadcrumbs(FilesTab.crumbs, FilesTab.open_folder, label="Folder"),
        new_file_dialog(),
        file_viewer(),
        file_listing(),
        on_refresh=FilesTab.refresh_files,
        error=FilesTab.error,
        notice=FilesTab.notice,
        viewing=FilesTab.file.kind,
        loaded=FilesTab.loaded,
    )


def file_listing() -> rx.Component:
    return files.file_listing(
        FilesTab.files,
        file_row,
        error=FilesTab.error,
        in_folder=FilesTab.path,
    )


def file_row(item: rx.Var[FileItem]) -> rx.Component:
    return files.file_row(
        item,
        on_open=FilesTab.open_entry(item.path, item.type, item.bytes),
        busy=FilesTab.busy,
        on_delete=FilesTab.delete_entry(item.path),
    )


def file_viewer() -> rx.Component:
    file = FilesTab.file
    return files.file_viewer(
        file,
        on_download=FilesTab.download_file(file.path),
        on_close=FilesTab.close_file,
    )


def new_file_dialog() -> rx.Component:
    return files.new_file_dialog(
        folder=FilesTab.new_file_folder,
        error=FilesTab.new_file_error,
        busy=FilesTab.busy,
        on_submit=FilesTab.save_new_file,
        is_open=FilesTab.new_file_open,
        on_open_change=FilesTab.set_new_file_open,
    )


# -- artifacts ------------------------------------------------------------------------


def artifacts_tab() -> rx.Component:
    return artifacts.artifacts_layout(
        toolbar=artifacts_toolbar(),
        preview=artifacts.artifact_preview(
            ArtifactsTab.artifact_preview, on_close=ArtifactsTab.close_artifact_preview
        ),
        table=artifacts.artifacts_table(ArtifactsTab.artifacts, artifact_row),
        on_refresh=SandboxState.refresh_tab,
        error=ArtifactsTab.error,
        notice=ArtifactsTab.notice,
        has_artifacts=ArtifactsTab.artifacts.length() > 0,
        loaded=ArtifactsTab.loaded,
    )


def artifacts_toolbar() -> rx.Component:
    return artifacts.toolbar(
        artifacts.task_filter(
            ArtifactsTab.artifacts_task,
            ArtifactsTab.artifact_tasks,
            on_change=ArtifactsTab.set_artifacts_task,
            all_value=ALL_TASKS,
        ),
        artifacts.upload_button(
            upload_id=UPLOAD_ID,
            on_drop=ArtifactsTab.upload_artifact(
                rx.upload_files(
                    upload_id=UPLOAD_ID, on_upload_progress=ArtifactsTab.upload_progressed
                )
            ),
            on_refused=ArtifactsTab.upload_refused,
            max_bytes=ArtifactsTab.artifacts_limit,
            busy=ArtifactsTab.upload_busy,
            status=ArtifactsTab.upload_status,
        ),
        artifacts.capture_dialog(
            kinds=CAPTURE_KINDS,
            error=ArtifactsTab.capture_error,
            busy=ArtifactsTab.busy,
            on_submit=ArtifactsTab.capture_from_workspace,
            is_open=ArtifactsTab.capture_open,
            on_open_change=ArtifactsTab.set_capture_open,
        ),
        usage=ArtifactsTab.artifacts_usage,
        retention=ArtifactsTab.artifacts_retention,
    )


def artifact_row(item: rx.Var[ArtifactItem]) -> rx.Component:
    return artifacts.artifact_row(
        item,
        busy=ArtifactsTab.busy,
        previewing=item.id == ArtifactsTab.artifact_preview.id,
        on_preview=ArtifactsTab.preview_artifact(item.id),
        on_recapture=ArtifactsTab.recapture_artifact(item.id),
        on_delete=ArtifactsTab.delete_artifact(item.id),
    )


# -- preview --------------------------------------------------------------------------


def preview_tab() -> rx.Component:
    running = SandboxState.view.status == "running"
    return preview.preview_layout(
        preview.ports_table(PreviewTab.preview_ports, port_row),
        preview.share_box(
            PreviewTab.share_url,
            PreviewTab.share_note,
            on_copy=PreviewTab.copy_share_link,
            on_close=PreviewTab.close_share_link,
        ),
        preview.links_table(PreviewTab.links, link_row),
        preview.embedded_preview(
            PreviewTab.embed_url, PreviewTab.embed_port, on_close=PreviewTab.close_embed
        ),
        add_port=preview.add_port_dialog(
            error=PreviewTab.port_error,
            busy=PreviewTab.busy,
            on_submit=PreviewTab.add_port,
            is_open=PreviewTab.port_dialog_open,
            on_open_change=PreviewTab.set_port_dialog_open,
        ),
        expiry=preview.expiry_select(
            PreviewTab.share_expiry, on_change=PreviewTab.set_share_expiry, choices=EXPIRIES
        ),
        on_refresh=SandboxState.refresh_tab,
        error=PreviewTab.error,
        notice=PreviewTab.notice,
        running=running,
        loaded=PreviewTab.loaded,
    )


def port_row(port: rx.Var[PreviewPortItem]) -> rx.Component:
    return preview.port_row(
        port,
        running=SandboxState.view.status == "running",
        busy=PreviewTab.busy,
        on_open=PreviewTab.open_preview(port.port),
        on_embed=PreviewTab.embed_preview(port.port),
        on_share=PreviewTab.share_preview(port.port),
        on_remove=PreviewTab.remove_port(port.port),
    )


def link_row(link: rx.Var[LinkItem]) -> rx.Component:
    return preview.link_row(
        link, busy=PreviewTab.busy, on_revoke=PreviewTab.revoke_preview_link(link.id)
    )


# -- sessions -------------------------------------------------------------------------


def sessions_tab() -> rx.Component:
    return sessions.sessions_layout(
        sessions.sessions_table(SessionsTab.sessions, session_row),
        has_sessions=SessionsTab.sessions.length() > 0,
        loaded=SessionsTab.loaded,
        error=SessionsTab.error,
        notice=SessionsTab.notice,
        grace=SessionsTab.grace,
        on_refresh=SandboxState.refresh_tab,
    )


def session_row(item: rx.Var[SessionItem]) -> rx.Component:
    return sessions.session_row(
        item,
        current=item.terminal_id == TerminalTab.term_id,
        on_attach=TerminalTab.attach_terminal(item.terminal_id),
        on_end=SessionsTab.end_runtime_session(item.id),
    )


# -- boundary -------------------------------------------------------------------------


def boundary_tab() -> rx.Component:
    return boundary.boundary_layout(
        boundary.checklist(BoundaryTab.checks, boundary.check_row),
        boundary.fact_groups(BoundaryTab.groups),
        tally=BoundaryTab.tally,
        loaded=BoundaryTab.loaded,
        error=BoundaryTab.error,
        on_refresh=SandboxState.refresh_tab,
    )
