"""The Artifacts tab: what the sandbox kept
(state/sandbox_artifacts.py, components/artifacts.py)."""

from __future__ import annotations

import reflex as rx

from components import artifacts
from state.sandbox import SandboxState
from state.sandbox_artifacts import ALL_TASKS, CAPTURE_KINDS, UPLOAD_ID, ArtifactItem, ArtifactsTab

LABEL = "Artifacts"


def tab() -> rx.Component:
    return artifacts.artifacts_layout(
        toolbar=artifacts_toolbar(),
        preview=artifacts.artifact_preview(
            ArtifactsTab.preview, on_close=ArtifactsTab.close_preview
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
            ArtifactsTab.task_filter,
            ArtifactsTab.task_choices,
            on_change=ArtifactsTab.set_task_filter,
            all_value=ALL_TASKS,
        ),
        rx.cond(SandboxState.can_operate, upload_button()),
        rx.cond(SandboxState.can_operate, capture_dialog()),
        usage=ArtifactsTab.usage,
        retention=ArtifactsTab.retention,
    )


def upload_button() -> rx.Component:
    return artifacts.upload_button(
        upload_id=UPLOAD_ID,
        on_drop=ArtifactsTab.upload_artifact(
            rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=ArtifactsTab.upload_progressed)
        ),
        on_refused=ArtifactsTab.upload_refused,
        max_bytes=ArtifactsTab.limit,
        busy=ArtifactsTab.upload_busy,
        status=ArtifactsTab.upload_status,
    )


def capture_dialog() -> rx.Component:
    return artifacts.capture_dialog(
        kinds=CAPTURE_KINDS,
        error=ArtifactsTab.capture_error,
        busy=ArtifactsTab.busy,
        on_submit=ArtifactsTab.capture_from_workspace,
        is_open=ArtifactsTab.capture_open,
        on_open_change=ArtifactsTab.set_capture_open,
    )


def artifact_row(item: rx.Var[ArtifactItem]) -> rx.Component:
    return artifacts.artifact_row(
        item,
        busy=ArtifactsTab.busy,
        previewing=item.id == ArtifactsTab.preview.id,
        on_preview=ArtifactsTab.preview_artifact(item.id),
        on_recapture=ArtifactsTab.recapture_artifact(item.id),
        on_delete=ArtifactsTab.delete_artifact(item.id),
    )
