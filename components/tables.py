"""Data tables: a header row, one row per item, and an empty state when there are none."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

VISUALLY_HIDDEN = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
    "white_space": "nowrap",
}


def data_table(
    headers: list[str],
    items: rx.Var[list],
    render_row: Callable[[rx.Var], rx.Component],
    *,
    label: str,
    empty: rx.Component,
) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.table.root(
            rx.el.caption(label, style=VISUALLY_HIDDEN),  # the table's accessible name
            rx.table.header(
                rx.table.row(*(rx.table.column_header_cell(h) for h in headers)),
            ),
            rx.table.body(rx.foreach(items, render_row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        empty,
    )


def mono(value: rx.Var[str] | str) -> rx.Component:
    """Identifiers (slugs, namespaces) in a monospace face."""
    return rx.code(value, variant="ghost", color_scheme="gray", size="2")


def muted(value: rx.Var[str] | str) -> rx.Component:
    return rx.text(value, size="2", color=rx.color("gray", 11))
