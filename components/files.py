"""Workspace files: a breadcrumb trail, the folder's listing (a drop zone for uploads),
the open file (viewed, or edited in a code editor), the new-file dialog, the Upload
button and the folder's download as tar.gz."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from components.code_editor import code_editor
from components.dialogs import confirm_delete, form_dialog
from components.feedback import error_callout
from components.forms import code_input, field, field_hint
from components.runtime import compact_table, content_viewer, log_view, refresh_button, tab_frame
from components.tables import clipped, muted
from components.theme import MONO, TEXT_SECONDARY, TEXT_TERTIARY

# A link the browser follows itself (not the client-side router), saving what the API
# answers (Content-Disposition: attachment) with the console's sign-in cookie.
DOWNLOAD = {"download": "", "reloadDocument": True}
CRUMB_WIDTH = "16rem"  # a longer folder or file name is cut with an ellipsis
# A browser-side ceiling for the upload button before the state knows the real limit.
NO_LIMIT = 2**53 - 1


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
                clipped(
                    item.label,
                    width=CRUMB_WIDTH,
                    size="2",
                    weight="medium",
                    aria_current="location",
                ),
                rx.button(
                    clipped(item.label, width=CRUMB_WIDTH),
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
    actions: rx.Component,
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
            actions,
            refresh_button(on_refresh),
            align="center",
            spacing="3",
            width="100%",
            wrap="wrap",
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
                        title=item.name,  # the whole name on hover when it is cut
                    ),
                    spacing="2",
                    align="center",
                    min_width="0",
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
    file: rx.Var,
    *,
    on_close: rx.EventHandler,
    edit: rx.Component,
    editing: rx.Var[bool],
    editor: rx.Component,
) -> rx.Component:
    """The open file: name, size, Edit, Download and Close, then its text (or why it is
    not shown), or the editor while `editing`."""
    download = download_link("Download", href=file.url, aria_label="Download " + file.name)
    return content_viewer(
        rx.cond(
            editing,
            editor,
            rx.match(
                file.kind,
                ("text", log_view(file.text, label="File content", empty="This file is empty.")),
                ("binary", muted("Binary file, " + file.size + ": not shown here.")),
                muted("This file is " + file.size + ", more than 1 MiB: not shown here."),
            ),
        ),
        icon=file_icon("file"),
        name=file.name,
        size=file.size,
        details=(rx.cond(editing, rx.fragment(), edit),),
        download=download,
        on_close=on_close,
        label="File " + file.name,
    )


def edit_button(*, on_click: rx.EventHandler, disabled: rx.Var[bool]) -> rx.Component:
    return rx.button(
        rx.icon("pencil", size=14),
        "Edit",
        on_click=on_click,
        variant="soft",
        size="1",
        disabled=disabled,
    )


def file_editor(
    file: rx.Var,
    *,
    editor_id: str,
    dark: rx.Var[bool],
    limit: rx.Var[str],
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_save: rx.EventSpec,
    on_cancel: rx.EventHandler,
) -> rx.Component:
    """The file's text in a code editor (highlighted by its name), Save and Cancel, the
    limit in words and why a save failed."""
    return rx.vstack(
        rx.box(
            code_editor(
                editor_id=editor_id,
                value=file.text,
                filename=file.name,
                label="Text of " + file.name,
                dark=dark,
                height="auto",
                max_height="28rem",
            ),
            border=f"1px solid {rx.color('gray', 6)}",
            border_radius="var(--radius-2)",
            overflow="hidden",
            font_size="13px",
        ),
        error_callout(error),
        rx.hstack(
            rx.text(
                "Saved as UTF-8 text, replacing the file (at most ",
                limit,
                ").",
                size="1",
                color=TEXT_SECONDARY,
            ),
            rx.spacer(),
            rx.button("Cancel", on_click=on_cancel, variant="soft", color_scheme="gray", size="1"),
            rx.button("Save", on_click=on_save, size="1", loading=busy),
            align="center",
            spacing="2",
            width="100%",
        ),
        spacing="2",
        align="stretch",
    )


def upload_root(
    child: rx.Component,
    *,
    upload_id: str,
    on_drop: rx.EventSpec,
    on_refused: rx.EventHandler,
    max_bytes: rx.Var[int],
    busy: rx.Var[bool],
    **props,
) -> rx.Component:
    """One file at a time, at most `max_bytes` (the browser refuses larger ones before
    sending: `on_refused` gets `refusals`), sent as soon as it is chosen or dropped on
    `child`."""
    return rx.upload.root(
        child,
        id=upload_id,
        multiple=False,
        max_files=1,
        max_size=rx.cond(max_bytes > 0, max_bytes, NO_LIMIT),
        no_keyboard=True,  # a button inside takes the focus and Enter
        disabled=busy,
        on_drop=on_drop,
        on_drop_rejected=lambda rejected: on_refused(refusals(rejected)),
        **props,
    )


def refusals(rejected: rx.Var) -> rx.Var:
    """The browser's refusals as plain data, `[{name, size, codes}]`: sent as they come,
    they would carry the refused files themselves over the state socket (socket.io sends
    a File as binary), and a large one would close the socket without a word."""
    items = rejected.to(list[dict[str, Any]])
    return items.map(
        lambda refusal: {
            "name": refusal["file"].to(dict[str, Any])["name"],
            "size": refusal["file"].to(dict[str, Any])["size"],
            "codes": refusal["errors"].to(list[dict[str, Any]]).map(lambda error: error["code"]),
        }
    )


def upload_trigger(label: str, *, busy: rx.Var[bool]) -> rx.Component:
    """The button inside an upload root that opens the file picker."""
    return rx.button(
        rx.icon("upload", size=14),
        label,
        type="button",
        variant="soft",
        size="1",
        loading=busy,
        disabled=~rx.State.is_hydrated | busy,
    )


def upload_button(*, busy: rx.Var[bool], **upload) -> rx.Component:
    """Upload: one file, chosen in the picker, written into the folder shown."""
    return upload_root(
        upload_trigger("Upload", busy=busy), busy=busy, display="inline-flex", **upload
    )


def drop_zone(content: rx.Component, *, limit: rx.Var[str], **upload) -> rx.Component:
    """The listing, which takes a file dropped on it (into the folder shown); a line under
    it says so, with the limit. Clicking a row opens it (the Upload button picks files)."""
    return upload_root(
        rx.vstack(
            content,
            rx.text(
                rx.icon("upload", size=12, display="inline", vertical_align="middle"),
                " Drop a file here to upload it into this folder (at most ",
                limit,
                "; an existing file of that name is replaced).",
                size="1",
                color=TEXT_TERTIARY,
            ),
            spacing="2",
            align="stretch",
        ),
        no_click=True,
        aria_label="Drop a file to upload it into this folder",
        width="100%",
        **upload,
    )


def download_link(
    label: str, *, href: rx.Var[str], icon: str = "download", **attrs
) -> rx.Component:
    """A link the browser follows itself, saving what the API answers (an attachment)
    with the console's sign-in cookie."""
    return rx.link(
        rx.icon(icon, size=14),
        label,
        href=href,
        custom_attrs={**DOWNLOAD},  # a copy: aria-* props are added to it
        size="1",
        weight="medium",
        display="inline-flex",
        align_items="center",
        gap="0.25rem",
        white_space="nowrap",
        **attrs,
    )


def folder_download(*, url: rx.Var[str], name: rx.Var[str]) -> rx.Component:
    """The folder shown as a .tar.gz, fetched by the browser from the API."""
    return download_link(
        "Download folder", href=url, icon="folder-down", title="Download this folder as " + name
    )


def new_file_dialog(
    *,
    folder: rx.Var[str],
    limit: rx.Var[str],
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_submit: rx.EventSpec,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """A dialog that writes a file: its path (starting in `folder`) and its content (at
    most `limit`, said under it)."""
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
        field(
            "Content",
            content,
            field_hint("At most " + limit + " of text: upload larger files instead."),
            html_for="new-file-content",
            width="100%",
        ),
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
