"""Artifacts: the table of what a sandbox kept (kind, task, retained bytes), a preview of
one, the task filter, the capture form, the upload button and the project's usage."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.dialogs import confirm_delete, form_dialog
from components.files import DOWNLOAD, download_link, upload_root, upload_trigger
from components.forms import code_input, field, field_hint
from components.runtime import compact_table, content_viewer, log_view, tab_frame, tab_intro
from components.tables import NAME_WIDTH, clipped, muted
from components.theme import (
    BORDER,
    FRAMED,
    MONO,
    SMALL_TEXT,
    TEXT_SECONDARY,
    TEXT_TERTIARY,
)

KIND_COLORS = (
    ("file", "gray"),
    ("directory", "blue"),
    ("report", "indigo"),
    ("log", "amber"),
    ("screenshot", "purple"),
    ("image", "purple"),
    ("link", "cyan"),
    ("other", "gray"),
)
# A link that looks like the ghost icon buttons beside it.
ICON_LINK = {
    "display": "inline-flex",
    "align_items": "center",
    "justify_content": "center",
    "width": "24px",
    "height": "24px",
    "border_radius": "var(--radius-1)",
    "color": rx.color("accent", 11),
    "_hover": {"background": rx.color("accent", 3)},
    "_focus_visible": {"outline": f"2px solid {rx.color('accent', 8)}", "outline_offset": "0"},
}


def kind_badge(kind: rx.Var[str]) -> rx.Component:
    """The artifact's kind as a small surface badge, coloured by kind."""
    return rx.badge(
        kind,
        color_scheme=rx.match(kind, *KIND_COLORS, "gray"),
        variant="surface",
        size="1",
        white_space="nowrap",
    )


def artifacts_layout(
    *,
    toolbar: rx.Component,
    preview: rx.Component,
    table: rx.Component,
    on_refresh: rx.EventHandler,
    error: rx.Var[str],
    notice: rx.Var[str],
    has_artifacts: rx.Var[bool],
    loaded: rx.Var[bool],
) -> rx.Component:
    """What the tab is for, the toolbar, messages, the open preview, then the table."""
    return tab_frame(
        tab_intro(
            "What this sandbox produced and kept, newest first: captured from its workspace, "
            "uploaded, or collected by its tasks. Retained copies outlive the sandbox.",
            on_refresh=on_refresh,
        ),
        preview,
        rx.cond(
            loaded,
            rx.cond(
                has_artifacts,
                rx.box(table, overflow_x="auto", width="100%"),
                muted(
                    "No artifacts yet: capture a file from the workspace, upload one, or run "
                    "a task that declares artifact paths."
                ),
            ),
            rx.skeleton(height="5rem"),
        ),
        before=(toolbar,),
        error=error,
        notice=notice,
    )


def toolbar(
    task_filter: rx.Component,
    upload: rx.Component,
    capture: rx.Component,
    *,
    usage: rx.Var[str],
    retention: rx.Var[str],
) -> rx.Component:
    """The filter and the project's retained usage on the left, Upload and Capture right."""
    return rx.flex(
        task_filter,
        rx.cond(
            usage,
            rx.hstack(
                rx.icon("hard-drive", size=14, color=TEXT_TERTIARY, flex_shrink="0"),
                rx.text(
                    "Project retains ",
                    rx.text.strong(usage, weight="medium", color=rx.color("gray", 12)),
                    ". ",
                    retention,
                    size="1",
                    color=TEXT_SECONDARY,
                ),
                role="group",
                aria_label="Retained in this project",
                spacing="2",
                align="center",
                min_width="0",
            ),
        ),
        rx.spacer(),
        upload,
        capture,
        align="center",
        gap="0.75rem",
        wrap="wrap",
        width="100%",
    )


def task_filter(
    value: rx.Var[str],
    choices: rx.Var[list],
    *,
    on_change: rx.EventHandler,
    all_value: str,
) -> rx.Component:
    """All artifacts, or those of one task (only tasks that have any are offered)."""
    return rx.hstack(
        rx.el.label(
            "Show",
            html_for="artifact-task",
            font_size=SMALL_TEXT,
            color=TEXT_SECONDARY,
        ),
        rx.select.root(
            rx.select.trigger(
                id="artifact-task", aria_label="Show artifacts of", max_width="18rem"
            ),
            rx.select.content(
                rx.select.item("All artifacts", value=all_value),
                rx.foreach(choices, lambda c: rx.select.item(c.label, value=c.value)),
            ),
            value=value,
            on_change=on_change,
            disabled=~rx.State.is_hydrated | (choices.length() == 0),
            size="1",
        ),
        spacing="2",
        align="center",
    )


def artifacts_table(
    items: rx.Var[list], render_row: Callable[[rx.Var], rx.Component]
) -> rx.Component:
    return compact_table(
        ["Name", "Kind", "Task", "Retained", "Created", ""],
        items,
        render_row,
        label="Artifacts",
        widths=["", "6rem", "5.5rem", "10.5rem", "8rem", "12.5rem"],
    )


def retained_cell(item: rx.Var) -> rx.Component:
    """Size and store on one line, the short sha256 (the whole one in its title) below; or
    "Reference only", with why a task's capture failed when it did."""
    return rx.cond(
        item.retained,
        rx.vstack(
            rx.text(
                item.size,
                " · ",
                item.provider,
                size="1",
                font_variant_numeric="tabular-nums",
                white_space="nowrap",
            ),
            rx.text(
                "sha256 ",
                item.sha_short,
                "…",
                title="sha256 " + item.sha256,
                size="1",
                font_family=MONO,
                color=TEXT_TERTIARY,
                white_space="nowrap",
            ),
            spacing="0",
        ),
        rx.vstack(
            rx.text("Reference only", size="1", color=TEXT_SECONDARY, white_space="nowrap"),
            rx.cond(
                item.capture_error,
                rx.text(
                    item.capture_error,
                    size="1",
                    color=rx.color("amber", 11),
                    title=item.capture_error,
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                    max_width="10rem",
                ),
            ),
            spacing="0",
        ),
    )


def artifact_row(
    item: rx.Var,
    *,
    busy: rx.Var[bool],
    previewing: rx.Var[bool],
    on_preview: rx.EventSpec,
    on_recapture: rx.EventSpec,
    on_delete: rx.EventSpec,
) -> rx.Component:
    """One artifact: name and URI, kind, task, retained content, created; Preview,
    Download, Capture again (workspace references) and Delete (after confirmation)."""
    ellipsis = {"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(item.name, size="2", weight="medium", title=item.name, **ellipsis),
                rx.text(
                    item.uri,
                    size="1",
                    font_family=MONO,
                    color=TEXT_TERTIARY,
                    title=item.uri,
                    **ellipsis,
                ),
                spacing="0",
                align="stretch",
            ),
            max_width="0",
        ),
        rx.table.cell(kind_badge(item.kind)),
        rx.table.cell(
            rx.cond(
                item.task_short,
                rx.text(
                    item.task_short,
                    size="1",
                    font_family=MONO,
                    title="Task " + item.task_id,
                ),
                rx.text("—", size="1", color=rx.color("gray", 9), title="No task"),
            ),
        ),
        rx.table.cell(retained_cell(item)),
        created_cell(item),
        rx.table.cell(
            artifact_actions(item, busy, previewing, on_preview, on_recapture, on_delete)
        ),
        align="center",
        background=rx.cond(previewing, rx.color("accent", 2), "transparent"),
    )


def created_cell(item: rx.Var) -> rx.Component:
    """When the artifact was made (the full time on hover)."""
    return rx.table.cell(
        rx.text(
            item.created,
            size="1",
            title=item.created_full,
            font_variant_numeric="tabular-nums",
            color=TEXT_SECONDARY,
        ),
        white_space="nowrap",
    )


def download_icon(item: rx.Var) -> rx.Component:
    """The artifact's content, fetched by the browser from the API (an icon link)."""
    return rx.link(
        rx.icon("download", size=14),
        href=item.url,
        aria_label="Download " + item.name,
        title="Download",
        custom_attrs={**DOWNLOAD},  # a copy: aria-* props are added to it
        **ICON_LINK,
    )


def artifact_actions(
    item: rx.Var,
    busy: rx.Var[bool],
    previewing: rx.Var[bool],
    on_preview: rx.EventSpec,
    on_recapture: rx.EventSpec,
    on_delete: rx.EventSpec,
) -> rx.Component:
    icon_props = {"variant": "ghost", "size": "1"}
    return rx.hstack(
        rx.button(
            rx.icon("eye", size=12),
            "Preview",
            on_click=on_preview,
            aria_label="Preview " + item.name,
            aria_pressed=previewing,
            variant="soft",
            size="1",
            disabled=~rx.State.is_hydrated,
        ),
        download_icon(item),
        # Hidden (not removed) when it does not apply: the buttons stay in columns.
        rx.icon_button(
            rx.icon("camera", size=14),
            on_click=on_recapture,
            aria_label="Capture " + item.name + " again",
            title="Capture again from the workspace",
            disabled=busy | ~item.capturable,
            visibility=rx.cond(item.capturable, "visible", "hidden"),
            **icon_props,
        ),
        confirm_delete(
            aria_label="Delete " + item.name,
            tooltip="Delete",
            disabled=busy,
            **icon_props,
            title="Delete this artifact?",
            description=rx.text(
                rx.code(item.name, variant="ghost"),
                rx.cond(
                    item.retained,
                    " and its retained copy (" + item.size + ") will be deleted. The workspace "
                    "is not touched. This cannot be undone.",
                    " will be deleted. The workspace is not touched. This cannot be undone.",
                ),
            ),
            confirm="Delete artifact",
            on_confirm=on_delete,
        ),
        spacing="3",
        align="center",
        justify="end",
    )


def artifact_preview(preview: rx.Var, *, on_close: rx.EventHandler) -> rx.Component:
    """The previewed artifact: its text (the first 64 KiB), its image, or why neither."""
    body = rx.match(
        preview.kind,
        (
            "text",
            rx.vstack(
                rx.cond(
                    preview.note,
                    rx.text(preview.note, size="1", color=rx.color("amber", 11)),
                ),
                # Shorter than a log tail: the table stays in view below it.
                log_view(
                    preview.text,
                    label="Artifact text",
                    empty="This artifact is empty.",
                    max_height="16rem",
                ),
                spacing="1",
                align="stretch",
            ),
        ),
        (
            "image",
            rx.center(
                rx.el.img(
                    src=preview.url,
                    alt=preview.name,
                    max_width="100%",
                    max_height="22rem",
                    object_fit="contain",
                ),
                padding="0.75rem",
                **FRAMED,
            ),
        ),
        muted(preview.reason),
    )
    download = download_link("Download", href=preview.url)
    return rx.cond(
        preview.kind != "",
        content_viewer(
            body,
            icon=rx.icon(
                rx.match(preview.kind, ("image", "image"), ("text", "file-text"), "file"),
                size=16,
                color=TEXT_TERTIARY,
            ),
            name=preview.name,
            size=preview.size,
            details=(
                rx.text(preview.content_type, size="1", font_family=MONO, color=TEXT_TERTIARY),
            ),
            download=download,
            on_close=on_close,
            close_label="Close the preview",
            header_spacing="3",
            label="Preview of " + preview.name,
            padding="0.75rem 1rem",
            border=BORDER,
            border_radius="0.625rem",
        ),
    )


def upload_button(
    *,
    upload_id: str,
    on_drop: rx.EventSpec,
    on_refused: rx.EventHandler,
    max_bytes: rx.Var[int],
    busy: rx.Var[bool],
    status: rx.Var[str],
) -> rx.Component:
    """One file, sent as soon as it is chosen (or dropped on the button); the progress in
    words beside it while it is sent and stored."""
    return rx.hstack(
        rx.cond(
            status,
            rx.hstack(
                rx.spinner(size="1"),
                rx.text(status, size="1", color=TEXT_SECONDARY),
                aria_live="polite",
                spacing="2",
                align="center",
            ),
        ),
        upload_root(
            upload_trigger("Upload file", busy=busy),
            upload_id=upload_id,
            on_drop=on_drop,
            on_refused=on_refused,
            max_bytes=max_bytes,
            busy=busy,
            display="inline-flex",
        ),
        spacing="3",
        align="center",
    )


def capture_dialog(
    *,
    kinds: tuple[tuple[str, str], ...],
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """A workspace path, a name (its last part by default) and a kind."""
    path = code_input(id="artifact-path", name="path", placeholder="out/report.txt")
    name = rx.input(
        id="artifact-name",
        name="name",
        placeholder="report.txt",
        autocomplete="off",
        width="100%",
    )
    kind = rx.select.root(
        rx.select.trigger(id="artifact-kind", width="100%"),
        rx.select.content(*(rx.select.item(label, value=value) for value, label in kinds)),
        name="kind",
        default_value=kinds[0][0],
    )
    return form_dialog(
        field(
            "Workspace path",
            path,
            field_hint("Relative to the workspace. A folder is kept as a .tar.gz archive."),
            html_for="artifact-path",
            width="100%",
        ),
        rx.flex(
            field(
                "Name",
                name,
                field_hint("The path's last part if left empty."),
                html_for="artifact-name",
                flex="1",
                min_width="0",
            ),
            field("Kind", kind, html_for="artifact-kind", width="9rem"),
            gap="0.75rem",
            width="100%",
        ),
        icon="camera",
        trigger="Capture from workspace",
        title="Capture from workspace",
        description="Keeps a copy of a file or folder of the workspace as an artifact: it "
        "stays when the workspace changes or the sandbox is deleted.",
        submit="Capture",
        error=error,
        busy=busy,
        on_submit=on_submit,
        is_open=is_open,
        on_open_change=on_open_change,
        max_width="32rem",
    )


# -- the project's Artifacts page ------------------------------------------------------------

PROJECT_HEADERS = ["Name", "Kind", "Sandbox", "Task", "Retained", "Created", ""]


def project_artifact_row(item: rx.Var) -> rx.Component:
    """One artifact of the project: name and URI (cut, whole on hover and in the names of
    its controls), kind, sandbox (a link while it exists), task, retained copy, created,
    and Download when a copy is retained."""
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                clipped(item.name, size="2", weight="medium"),
                clipped(item.uri, size="1", font_family=MONO, color=TEXT_TERTIARY),
                spacing="0",
                align="stretch",
            ),
            max_width="0",
            width="40%",
        ),
        rx.table.cell(kind_badge(item.kind)),
        rx.table.cell(
            rx.cond(
                item.sandbox_href,
                rx.link(
                    clipped(item.sandbox_name, width=NAME_WIDTH, size="2"),
                    href=item.sandbox_href,
                    aria_label="Sandbox " + item.sandbox_name,
                ),
                clipped(item.sandbox_name, width=NAME_WIDTH, size="2", color=TEXT_SECONDARY),
            ),
            max_width=NAME_WIDTH,
        ),
        rx.table.cell(
            rx.cond(
                item.task_short,
                rx.text(item.task_short, size="1", font_family=MONO, title=item.task_label),
                rx.text("—", size="1", color=rx.color("gray", 9), title="No task"),
            )
        ),
        rx.table.cell(
            rx.cond(
                item.retained,
                rx.text(item.size, size="1", white_space="nowrap"),
                rx.text("Reference only", size="1", color=TEXT_SECONDARY, white_space="nowrap"),
            )
        ),
        created_cell(item),
        rx.table.cell(
            rx.cond(
                item.retained,
                download_icon(item),
            )
        ),
        align="center",
    )
