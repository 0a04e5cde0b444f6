"""Workspace files: a breadcrumb trail, the folder's listing, the open file and the
new-file dialog."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.dialogs import confirm_delete, form_dialog
from components.forms import code_input, field, field_hint
from components.runtime import compact_table, content_viewer, log_view, refresh_button, tab_frame
from components.tables import muted
from components.theme import MONO, TEXT_SECONDARY, TEXT_TERTIARY


def file_icon(kind: rx.Var[str]) -> rx.Component:
    """A folder, a file, a link, or a question mark for anything else."""
    return rx.match(
        kind,
        ("directory", rx.icon("folder", size=16, color=rx.color("accent", 10), flex_shrink="0")),
        ("file", rx.icon("file-text", size=16, color=TEXT_TERTIARY, flex_shrink="0")),
        ("symlink", rx.icon("link", size=16, color=TEXT_TERTIARY, flex_shrink="0")),
        rx.icon("file-question", size=16, color=TEXT_TERTIARY, flex_shrink="0"),
    )


def breadcrumbs(
    crumbs: rx.Var[list], on_open: Callable[[rx.Var[str]], rx.EventSpec], *, label: str
) -> rx.Component:
    """`Workspace / notes / todo.txt`: every crumb but the last opens its folder."""
    last = crumbs.length() - 1

    def crumb(item: rx.Var, index: rx.Var[int]) -> rx.Component:
        return rx.hstack(
            rx.cond(index > 0, rx.icon("chevron-right", size=14, color=rx.color("gray", 8))),
            rx.cond(
                index == last,
                rx.text(item.label, size="2", weight="medium", aria_current="location"),
                rx.button(
                    item.label,
                    on_click=on_open(item.path),
                    variant="ghost",
                    size="2",
                    margin="0",
                    padding="0 0.25rem",
                    height="1.5rem",
                ),
            ),
            spacing="1",
            align="center",
        )

    return rx.el.nav(
        rx.hstack(rx.foreach(crumbs, crumb), spacing="1", align="center", wrap="wrap"),
        aria_label=label,
        min_width="0",
    )


def files_layout(
    crumbs: rx.Component,
    new_file: rx.Component,
    viewer: rx.Component,
    listing: rx.Component,
    *,
    on_refresh: rx.EventHandler,
    error: rx.Var[str],
    notice: rx.Var[str],
    viewing: rx.Var,
    loaded: rx.Var[bool],
) -> rx.Component:
    """The trail and actions over the open file (when `viewing`) or the folder's listing."""
    return tab_frame(
        rx.hstack(
            crumbs,
            rx.spacer(),
            new_file,
            refresh_button(on_refresh),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.cond(viewing, viewer, rx.cond(loaded, listing, rx.skeleton(height="6rem"))),
        error=error,
        notice=notice,
    )


def file_listing(
    files: rx.Var[list],
    render_row: Callable[[rx.Var], rx.Component],
    *,
    error: rx.Var[str],
    in_folder: rx.Var,
) -> rx.Component:
    """The folder's entries, or why there are none (nothing extra beside an error)."""
    return rx.cond(
        files.length() > 0,
        compact_table(
            ["Name", "Size", "Modified", ""],
            files,
            render_row,
            label="Files",
            widths=["", "6rem", "9.5rem", "3rem"],
        ),
        rx.cond(
            error,
            rx.fragment(),
            muted(
                rx.cond(
                    in_folder,
                    "This folder is empty.",
                    "The workspace is empty: create a file, or run a command that writes one.",
                )
            ),
        ),
    )


def file_row(
    item: rx.Var, *, on_open: rx.EventSpec, busy: rx.Var[bool], on_delete: rx.EventSpec
) -> rx.Component:
    """One entry: the row (and its name, a button for the keyboard) opens it; a bin deletes
    it after confirmation."""
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
                on_click=on_open.stop_propagation,
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
            rx.text(item.size, size="1", font_variant_numeric="tabular-nums", color=TEXT_SECONDARY),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.text(
                item.modified,
                size="1",
                title=item.modified_full,
                font_variant_numeric="tabular-nums",
                color=TEXT_SECONDARY,
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            delete_entry(item, busy=busy, on_delete=on_delete), on_click=rx.stop_propagation
        ),
        on_click=on_open,
        cursor="pointer",
        _hover={"background": rx.color("gray", 3)},
        align="center",
    )


def delete_entry(item: rx.Var, *, busy: rx.Var[bool], on_delete: rx.EventSpec) -> rx.Component:
    """A bin button that asks before deleting the entry (and, for a folder, its contents)."""
    is_dir = item.type == "directory"
    return confirm_delete(
        aria_label="Delete " + item.name,
        tooltip="Delete",
        variant="ghost",
        size="1",
        disabled=busy,
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
        on_confirm=on_delete,
    )


def file_viewer(
    file: rx.Var, *, on_download: rx.EventSpec, on_close: rx.EventHandler
) -> rx.Component:
    """The open file: name, size, Download and Close, then its text (or why it is not shown)."""
    download = rx.button(
        rx.icon("download", size=14), "Download", on_click=on_download, variant="ghost", size="1"
    )
    return content_viewer(
        rx.match(
            file.kind,
            ("text", log_view(file.text, label="File content", empty="This file is empty.")),
            ("binary", muted("Binary file, " + file.size + ": not shown here.")),
            muted("This file is " + file.size + ", more than 1 MiB: not shown here."),
        ),
        icon=file_icon("file"),
        name=file.name,
        size=file.size,
        download=rx.cond(file.downloadable, download),
        on_close=on_close,
        label="File " + file.name,
    )


def new_file_dialog(
    *,
    folder: rx.Var[str],
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """A dialog that writes a file: its path (starting in `folder`) and its content."""
    path = code_input(
        id="new-file-path", name="path", placeholder="notes/todo.txt", default_value=folder
    )
    content = rx.text_area(
        id="new-file-content",
        name="content",
        rows="8",
        font_family=MONO,
        spellcheck=False,
        width="100%",
    )
    return form_dialog(
        field(
            "Path",
            path,
            field_hint("Relative to the workspace."),
            html_for="new-file-path",
            width="100%",
        ),
        field("Content", content, html_for="new-file-content", width="100%"),
        icon="file-plus",
        trigger="New file",
        title="New file",
        description="Written to the workspace as the sandbox's user; missing folders are "
        "created and an existing file is replaced.",
        submit="Save",
        error=error,
        busy=busy,
        on_submit=on_submit,
        is_open=is_open,
        on_open_change=on_open_change,
        max_width="34rem",
    )
