"""What a sandbox's runtime reports: its log and lifecycle events."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.tables import VISUALLY_HIDDEN


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
            font_family="var(--code-font-family)",
            font_size="0.8125rem",
            line_height="1.55",
            color=rx.color("gray", 12),
            background=rx.color("gray", 2),
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="0.5rem",
        ),
        rx.text(empty, size="2", color=rx.color("gray", 11), padding="0.75rem 0"),
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


def tab_intro(*text: rx.Var | str, on_refresh: rx.EventHandler, **props) -> rx.Component:
    """A tab's first line: what it shows, in words, and its Refresh button."""
    return rx.hstack(
        rx.text(*text, size="2", color=rx.color("gray", 11)),
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
