"""What a sandbox's runtime reports: its log and lifecycle events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from components.feedback import error_callout, notice_callout
from components.tables import VISUALLY_HIDDEN
from components.theme import (
    CODE_TEXT,
    FRAMED,
    TEXT_SECONDARY,
    TEXT_TERTIARY,
)


def log_view(
    text: rx.Var[str], *, label: str, empty: str, max_height: str = "26rem"
) -> rx.Component:
    """A scrollable, monospaced log tail; `empty` in words when there is no output."""
    return rx.cond(
        text,
        rx.el.pre(
            text,
            role="log",
            aria_label=label,
            tab_index=0,
            margin="0",
            padding="0.875rem 1rem",
            max_height=max_height,
            overflow="auto",
            white_space="pre-wrap",
            word_break="break-all",
            **CODE_TEXT,
            **FRAMED,
        ),
        rx.text(empty, size="2", color=TEXT_SECONDARY, padding="0.75rem 0"),
    )


def content_viewer(
    body: rx.Component,
    *,
    icon: rx.Component,
    name: rx.Var[str],
    size: rx.Var[str],
    download: rx.Component,
    on_close: rx.EventHandler,
    label: rx.Var[str],
    details: tuple[rx.Component, ...] = (),
    close_label: str | None = None,
    header_spacing: str = "2",
    **props: Any,
) -> rx.Component:
    """Something opened to read (a file, an artifact): its icon, name, size and `details`,
    its `download` control and Close, then its `body`; a region named `label`."""
    header = rx.hstack(
        icon,
        rx.text(name, size="2", weight="medium"),
        rx.text(size, size="1", color=TEXT_TERTIARY),
        *details,
        rx.spacer(),
        download,
        close_button(on_close, label=close_label),
        align="center",
        spacing=header_spacing,
        width="100%",
    )
    return rx.vstack(
        header, body, spacing="2", align="stretch", role="region", aria_label=label, **props
    )


def close_button(
    on_close: rx.EventHandler, *, label: str | None = None, variant: str = "ghost", icon: int = 14
) -> rx.Component:
    """A small grey Close (with `label` as its accessible name when given)."""
    return rx.button(
        rx.icon("x", size=icon),
        "Close",
        on_click=on_close,
        variant=variant,
        size="1",
        color_scheme="gray",
        **({"aria_label": label} if label else {}),
    )


def compact_table(
    headers: list[str],
    items: rx.Var[list],
    render_row: Callable[[rx.Var], rx.Component],
    *,
    label: str,
    widths: list[str] | None = None,
) -> rx.Component:
    """A small table without an empty state of its own (the caller says what is missing);
    `widths` fixes column widths ("" leaves one to the browser)."""
    widths = widths or [""] * len(headers)
    return rx.table.root(
        rx.el.caption(label, style=VISUALLY_HIDDEN),
        rx.table.header(
            rx.table.row(
                *(
                    rx.table.column_header_cell(h, width=w or None)
                    for h, w in zip(headers, widths, strict=True)
                )
            )
        ),
        rx.table.body(rx.foreach(items, render_row)),
        variant="surface",
        size="1",
        width="100%",
    )


def tab_frame(
    head: rx.Component,
    *content: rx.Component,
    error: rx.Var[str],
    notice: rx.Var[str] | None = None,
    before: tuple[rx.Component, ...] = (),
    **props: Any,
) -> rx.Component:
    """A tab of the sandbox page: its head (what it shows, Refresh), what comes `before` the
    messages (tools, a hint), the refusal and the notice of its last action, its content."""
    messages = [error_callout(error)] + ([notice_callout(notice)] if notice is not None else [])
    return rx.vstack(head, *before, *messages, *content, spacing="3", align="stretch", **props)


def tab_intro(*text: rx.Var | str, on_refresh: rx.EventHandler, **props) -> rx.Component:
    """A tab's first line: what it shows, in words, and its Refresh button."""
    return rx.hstack(
        rx.text(*text, size="2", color=TEXT_SECONDARY),
        rx.spacer(),
        refresh_button(on_refresh),
        align="center",
        width="100%",
        **props,
    )


def refresh_button(on_click: rx.EventHandler) -> rx.Component:
    """A small ghost Refresh button, usable once the page has loaded."""
    return rx.button(
        rx.icon("refresh-cw", size=14),
        "Refresh",
        on_click=on_click,
        variant="ghost",
        size="1",
        disabled=~rx.State.is_hydrated,
    )
