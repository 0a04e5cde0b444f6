"""The Files tab: browse, view, edit, write, upload, download and delete workspace files
(state/sandbox_files.py, components/files.py)."""

from __future__ import annotations

import reflex as rx

from components import files
from state.sandbox import SandboxState
from state.sandbox_files import (
    EDITOR_ID,
    UPLOAD_DROP,
    UPLOAD_PICKER,
    FileItem,
    FilesTab,
    submit_edit,
    submit_new_file,
)

LABEL = "Files"


def tab() -> rx.Component:
    return files.files_layout(
        files.breadcrumbs(FilesTab.crumbs, FilesTab.open_folder, label="Folder"),
        rx.hstack(
            files.folder_download(
                url=FilesTab.folder_archive_url, name=FilesTab.folder_archive_name
            ),
            rx.cond(SandboxState.can_operate, upload_button()),
            rx.cond(SandboxState.can_operate, new_file_dialog()),
            spacing="3",
            align="center",
        ),
        file_viewer(),
        rx.cond(SandboxState.can_operate, drop_zone(file_listing()), file_listing()),
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


def _uploads(upload_id: str) -> dict:
    return {
        "upload_id": upload_id,
        "on_drop": FilesTab.upload_files(rx.upload_files(upload_id=upload_id)),
        "on_refused": FilesTab.upload_refused,
        "max_bytes": FilesTab.upload_limit,
        "busy": FilesTab.upload_busy,
    }


def upload_button() -> rx.Component:
    return files.upload_button(**_uploads(UPLOAD_PICKER))


def drop_zone(listing: rx.Component) -> rx.Component:
    return files.drop_zone(listing, limit=FilesTab.upload_limit_words, **_uploads(UPLOAD_DROP))


def file_viewer() -> rx.Component:
    file = FilesTab.file
    return files.file_viewer(
        file,
        on_close=FilesTab.close_file,
        edit=rx.cond(
            SandboxState.can_operate & file.editable,
            files.edit_button(on_click=FilesTab.edit_file, disabled=FilesTab.busy),
        ),
        editing=FilesTab.editing,
        editor=files.file_editor(
            file,
            editor_id=EDITOR_ID,
            dark=rx.color_mode_cond(light=False, dark=True),
            limit=FilesTab.typed_limit_words,
            error=FilesTab.edit_error,
            busy=FilesTab.busy,
            on_save=submit_edit(),
            on_cancel=FilesTab.cancel_edit,
        ),
    )


def new_file_dialog() -> rx.Component:
    return files.new_file_dialog(
        folder=FilesTab.new_file_folder,
        limit=FilesTab.typed_limit_words,
        error=FilesTab.new_file_error,
        busy=FilesTab.busy,
        on_submit=submit_new_file(),
        is_open=FilesTab.new_file_open,
        on_open_change=FilesTab.set_new_file_open,
    )
