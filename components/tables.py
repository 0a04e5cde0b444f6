"""Data tables: a header row, one row per item, and an empty state when there are none."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.theme import SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY

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


# How wide a name may grow in a table cell before it is cut (tables size their columns
# by their content: a 5,000-character name would push the others off screen).
NAME_WIDTH = "14rem"


def clipped(value: rx.Var[str] | str, *, width: str = "100%", **props) -> rx.Component:
    """Text cut to one line with an ellipsis past `width`; the whole of it is the title (on
    hover) and stays in the DOM for accessible names and search."""
    return rx.text(
        value,
        title=value,
        overflow="hidden",
        text_overflow="ellipsis",
        white_space="nowrap",
        max_width=width,
        min_width="0",
        **props,
    )


def mono(value: rx.Var[str] | str) -> rx.Component:
    """Identifiers (slugs, namespaces) in a monospace face."""
    return rx.code(value, variant="ghost", color_scheme="gray", size="2")


def muted(value: rx.Var[str] | str) -> rx.Component:
    return rx.text(value, size="2", color=TEXT_SECONDARY)


def facts(
    *rows: tuple[str, rx.Component | rx.Var[str] | str],
    label: str | None = None,
    stacked: bool = False,
) -> rx.Component:
    """Label/value pairs as a description list: side by side, or `stacked` (each label
    above its value, two pairs to a row). With `label` it is a region of that name."""
    term_style = (
        {"color": TEXT_TERTIARY, "font_size": "0.75rem"} if stacked else {"color": TEXT_SECONDARY}
    )
    grid = (
        {"grid_template_columns": "repeat(2, minmax(0, 1fr))", "gap": "0.75rem 1rem"}
        if stacked
        else {"grid_template_columns": "7.5rem minmax(0, 1fr)", "gap": "0.35rem 0.75rem"}
    )
    pair = rx.el.div if stacked else rx.fragment  # side by side: dt and dd are grid cells
    listing = rx.el.dl(
        *(
            pair(
                rx.el.dt(term, **term_style),
                rx.el.dd(value, margin="0", min_width="0", overflow_wrap="anywhere"),
            )
            for term, value in rows
        ),
        display="grid",
        font_size=SMALL_TEXT,
        margin="0",
        width="100%",
        **grid,
    )
    return rx.el.section(listing, aria_label=label) if label else listing
