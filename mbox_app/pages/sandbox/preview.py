"""The Preview tab: ports, preview links and shares
(state/sandbox_preview.py, components/preview.py)."""

from __future__ import annotations

import reflex as rx

from components import preview
from state.sandbox import SandboxState
from state.sandbox_preview import EXPIRIES, LinkItem, ListeningItem, PreviewPortItem, PreviewTab

LABEL = "Preview"


def tab() -> rx.Component:
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
        listening=preview.listening_ports(PreviewTab.listening, listening_row),
        add_port=rx.cond(
            SandboxState.can_operate,
            preview.add_port_dialog(
                error=PreviewTab.port_error,
                busy=PreviewTab.busy,
                on_submit=PreviewTab.add_port,
                is_open=PreviewTab.port_dialog_open,
                on_open_change=PreviewTab.set_port_dialog_open,
            ),
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


def listening_row(item: rx.Var[ListeningItem]) -> rx.Component:
    return preview.listening_row(
        item,
        busy=PreviewTab.busy,
        can_declare=SandboxState.can_operate,
        on_declare=PreviewTab.declare_port,
    )


def link_row(link: rx.Var[LinkItem]) -> rx.Component:
    return preview.link_row(
        link, busy=PreviewTab.busy, on_revoke=PreviewTab.revoke_preview_link(link.id)
    )
