"""The Files tab: browse, view, write and delete workspace files
(state/sandbox_files.py, components/files.py)."""

from __future__ import annotations

import reflex as rx

from components import files
from state.sandbox import SandboxState
from state.sandbox_files import FileItem, FilesTab

LABEL = "Files"


def tab() -> rx.Component:
    return files.files_layout(
        files.breadcrumbs(FilesTab.crumbs, FilesTab.open_folder, label="Folder"),
        rx.cond(SandboxState.can_operate, new_file_dialog()),
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
