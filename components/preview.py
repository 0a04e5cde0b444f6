"""Previews: a sandbox's declared ports (open, embed, share, remove, add), the ports its
processes listen on that are not declared (declare in one click), and the share links,
with their expiry and status. Names that may be long are cut to their box with an
ellipsis; the whole name is their title (on hover) and stays in accessible names."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.badges import dot_badge
from components.dialogs import confirm_delete, form_dialog
from components.forms import field, field_hint
from components.runtime import close_button, compact_table, tab_frame, tab_intro
from components.tables import clipped, muted
from components.theme import MONO, SMALL_TEXT, TEXT_SECONDARY

LINK_STATUSES = (
    ("active", "Active", "green"),
    ("expired", "Expired", "gray"),
    ("revoked", "Revoked", "red"),
)


def link_status_badge(status: rx.Var[str]) -> rx.Component:
    """`● Active` in green, `● Expired` in grey, `● Revoked` in red."""
    return dot_badge(status, LINK_STATUSES)


def section_heading(text: str, *actions: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.heading(text, as_="h3", size="2", weight="medium"),
        rx.spacer(),
        *actions,
        align="center",
        spacing="3",
        width="100%",
        wrap="wrap",
    )


def preview_layout(
    ports: rx.Component,
    share: rx.Component,
    links: rx.Component,
    embedded: rx.Component,
    *,
    listening: rx.Component,
    add_port: rx.Component,
    expiry: rx.Component,
    on_refresh: rx.EventHandler,
    error: rx.Var[str],
    notice: rx.Var[str],
    running: rx.Var[bool],
    loaded: rx.Var[bool],
) -> rx.Component:
    """Ports (with the share expiry and Add port), the listening ones not declared, the
    link just shared, the embedded preview, then the share links."""
    not_running = rx.callout(
        "The sandbox is not running: previews open once it runs (share links made now work then).",
        icon="info",
        color_scheme="gray",
        size="1",
    )
    return tab_frame(
        tab_intro(
            "Open a port of the sandbox in a new tab or on this page (only for you, while "
            "you are signed in), or share a link to it that works without signing in until "
            "it expires or is revoked.",
            on_refresh=on_refresh,
        ),
        section_heading("Ports", expiry, add_port),
        rx.cond(loaded, ports, rx.skeleton(height="4rem")),
        listening,
        share,
        embedded,
        section_heading("Share links"),
        rx.cond(loaded, links, rx.skeleton(height="4rem")),
        before=(rx.cond(~running, not_running),),
        error=error,
        notice=notice,
    )


def ports_table(ports: rx.Var[list], render_row: Callable[[rx.Var], rx.Component]) -> rx.Component:
    return rx.cond(
        ports.length() > 0,
        compact_table(
            ["Name", "Port", "Origin", ""],
            ports,
            render_row,
            label="Ports",
            widths=["9rem", "6rem", "", "19rem"],
        ),
        muted("No ports declared: add the port your app listens on, such as 8000."),
    )


def port_row(
    port: rx.Var,
    *,
    running: rx.Var[bool],
    busy: rx.Var[bool],
    on_open: rx.EventSpec,
    on_embed: rx.EventSpec,
    on_share: rx.EventSpec,
    on_remove: rx.EventSpec,
) -> rx.Component:
    """A declared port: Open and Embed (while running) and Copy share link for TCP ports,
    Remove."""
    tcp = port.protocol == "TCP"
    return rx.table.row(
        rx.table.cell(clipped(port.name, width="9rem", size="2", weight="medium")),
        rx.table.cell(
            rx.text(port.port, " ", port.protocol, size="1", font_variant_numeric="tabular-nums"),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.cond(
                tcp,
                clipped(port.origin, width="24rem", size="1", font_family=MONO),
                muted("UDP ports cannot be previewed."),
            ),
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.icon("external-link", size=12),
                    "Open",
                    on_click=on_open,
                    aria_label="Open " + port.name,
                    title=rx.cond(running, "Open in a new tab", "Start the sandbox first"),
                    disabled=busy | ~running | ~tcp,
                    size="1",
                ),
                rx.button(
                    rx.icon("panel-bottom-open", size=12),
                    "Embed",
                    on_click=on_embed,
                    aria_label="Embed " + port.name,
                    title=rx.cond(running, "Show it on this page", "Start the sandbox first"),
                    disabled=busy | ~running | ~tcp,
                    size="1",
                    variant="soft",
                ),
                rx.button(
                    rx.icon("link", size=12),
                    "Copy share link",
                    on_click=on_share,
                    aria_label="Copy share link for " + port.name,
                    disabled=busy | ~tcp,
                    size="1",
                    variant="soft",
                ),
                confirm_delete(
                    aria_label="Remove port " + port.name,
                    title="Remove this port?",
                    description=rx.text(
                        rx.code(port.name, variant="ghost"),
                        " (",
                        port.port,
                        ") is no longer declared: its previews and links stop working.",
                    ),
                    confirm="Remove port",
                    on_confirm=on_remove,
                    tooltip="Remove",
                    variant="ghost",
                    size="1",
                    disabled=busy,
                ),
                spacing="2",
                align="center",
                justify="end",
            )
        ),
        align="center",
    )


def embedded_preview(
    url: rx.Var[str], port: rx.Var[int], *, on_close: rx.EventHandler
) -> rx.Component:
    """The port's app in a frame. It is served from its own origin, so it cannot read or
    use the console (and the frame is sandboxed on top)."""
    return rx.cond(
        url != "",
        rx.vstack(
            section_heading(
                "Port " + port.to_string() + ", embedded",
                close_button(on_close, label="Close the embedded preview", variant="soft", icon=12),
            ),
            rx.el.iframe(
                src=url,
                title="Embedded preview of port " + port.to_string(),
                sandbox="allow-scripts allow-forms allow-same-origin allow-popups allow-modals",
                width="100%",
                height="28rem",
                border=f"1px solid {rx.color('gray', 6)}",
                border_radius="var(--radius-2)",
                background="white",
            ),
            spacing="2",
            align="stretch",
        ),
    )


def expiry_select(
    value: rx.Var[str], *, on_change: rx.EventHandler, choices: tuple[tuple[str, str], ...]
) -> rx.Component:
    """How long a share link lasts: a labelled select."""
    return rx.hstack(
        rx.el.label(
            "Share links expire after",
            html_for="share-expiry",
            font_size=SMALL_TEXT,
            color=TEXT_SECONDARY,
        ),
        rx.select.root(
            rx.select.trigger(id="share-expiry", aria_label="Share links expire after"),
            rx.select.content(*(rx.select.item(label, value=key) for key, label in choices)),
            value=value,
            on_change=on_change,
            size="1",
        ),
        spacing="2",
        align="center",
    )


def share_box(
    url: rx.Var[str], note: rx.Var[str], *, on_copy: rx.EventHandler, on_close: rx.EventHandler
) -> rx.Component:
    """The link just shared (its secret is shown only now), with Copy and Close."""
    return rx.cond(
        url,
        rx.vstack(
            rx.flex(
                field(
                    "Share link",
                    rx.input(
                        id="share-link",
                        value=url,
                        read_only=True,
                        font_family=MONO,
                        size="1",
                        width="100%",
                        on_focus=rx.call_script("document.getElementById('share-link').select()"),
                    ),
                    html_for="share-link",
                    flex="1",
                    min_width="0",
                ),
                rx.button(rx.icon("copy", size=12), "Copy", on_click=on_copy, size="1"),
                rx.button(
                    "Close", on_click=on_close, size="1", variant="soft", color_scheme="gray"
                ),
                align="end",
                gap="0.5rem",
                width="100%",
            ),
            field_hint(note),
            role="region",
            aria_label="Shared link",
            spacing="1",
            padding="0.75rem 1rem",
            background=rx.color("accent", 2),
            border=f"1px solid {rx.color('accent', 5)}",
            border_radius="0.5rem",
        ),
    )


def links_table(links: rx.Var[list], render_row: Callable[[rx.Var], rx.Component]) -> rx.Component:
    return rx.cond(
        links.length() > 0,
        rx.box(
            compact_table(
                ["Label", "Port", "Created", "Expires", "Status", ""],
                links,
                render_row,
                label="Preview links",
                widths=["", "8rem", "5.5rem", "7rem", "6rem", "5.5rem"],
            ),
            max_height="22rem",
            overflow_y="auto",
            width="100%",
        ),
        muted("No share links: Copy share link makes one (Open and Embed make none)."),
    )


def link_row(link: rx.Var, *, busy: rx.Var[bool], on_revoke: rx.EventSpec) -> rx.Component:
    """A link: its label, port, when it was made and expires, its status, Revoke."""
    return rx.table.row(
        rx.table.cell(clipped(link.label, width="16rem", size="1")),
        rx.table.cell(
            clipped(
                rx.cond(link.port_name, link.port_name + " · ", "") + link.port.to_string(),
                width="8rem",
                size="1",
                font_variant_numeric="tabular-nums",
            ),
        ),
        rx.table.cell(
            rx.text(
                link.created, size="1", title=link.created_full, font_variant_numeric="tabular-nums"
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.text(
                rx.cond(link.status == "expired", "Expired ", ""),
                link.expires,
                size="1",
                title=link.expires_full,
            ),
            white_space="nowrap",
        ),
        rx.table.cell(link_status_badge(link.status)),
        rx.table.cell(
            rx.cond(
                link.status == "active",
                rx.button(
                    "Revoke",
                    on_click=on_revoke,
                    aria_label="Revoke the link created at " + link.created,
                    disabled=busy,
                    size="1",
                    variant="soft",
                    color_scheme="red",
                ),
            )
        ),
        align="center",
    )


def add_port_dialog(
    *,
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """A dialog that declares a TCP port: its name and number."""
    name = rx.input(
        id="port-name", name="name", placeholder="web", autocomplete="off", width="100%"
    )
    number = rx.input(
        id="port-number",
        name="port",
        type="number",  # no min/max: the range is checked with an answer in words
        placeholder="8000",
        width="100%",
    )
    return form_dialog(
        field("Name", name, html_for="port-name", width="100%"),
        field("Port", number, field_hint("From 1 to 65535."), html_for="port-number", width="100%"),
        icon="plus",
        trigger="Add port",
        title="Add port",
        description="Declare a TCP port the sandbox's app listens on; it can then be opened "
        "and shared.",
        submit="Add port",
        error=error,
        busy=busy,
        on_submit=on_submit,
        is_open=is_open,
        on_open_change=on_open_change,
        max_width="26rem",
    )


def listening_ports(
    items: rx.Var[list], render_row: Callable[[rx.Var], rx.Component]
) -> rx.Component:
    """Ports processes in the sandbox listen on that are not declared (nothing when none)."""
    return rx.cond(
        items.length() > 0,
        rx.vstack(
            section_heading("Listening, not declared"),
            rx.text(
                "A process in the sandbox listens on these ports. Declare one to open and "
                "share it.",
                size="1",
                color=TEXT_SECONDARY,
            ),
            rx.vstack(rx.foreach(items, render_row), spacing="1", width="100%"),
            role="region",
            aria_label="Listening ports not declared",
            spacing="2",
            align="stretch",
        ),
    )


def listening_row(
    item: rx.Var, *, busy: rx.Var[bool], can_declare: rx.Var[bool], on_declare: rx.EventHandler
) -> rx.Component:
    """A listening port: its number, the name to declare it under (suggested, editable)
    and Declare."""
    field_id = "declare-name-" + item.port.to_string()
    return rx.form(
        rx.hstack(
            rx.text(
                "Port ",
                item.port,
                size="2",
                weight="medium",
                font_variant_numeric="tabular-nums",
                min_width="6rem",
            ),
            rx.el.label("Name", html_for=field_id, font_size=SMALL_TEXT, color=TEXT_SECONDARY),
            rx.input(
                id=field_id,
                name="name",
                default_value=item.name,
                max_length=15,
                autocomplete="off",
                size="1",
                width="9rem",
                aria_label="Name for port " + item.port.to_string(),
            ),
            rx.el.input(type="hidden", name="port", value=item.port.to_string()),
            rx.button(
                rx.icon("plus", size=12),
                "Declare",
                type="submit",
                aria_label="Declare port " + item.port.to_string(),
                disabled=busy | ~can_declare,
                size="1",
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        on_submit=on_declare,
        reset_on_submit=False,
        width="100%",
    )
