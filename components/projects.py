"""Pieces of the project inspector: labelled facts and titled sections."""

from __future__ import annotations

import reflex as rx


def facts(*rows: tuple[str, rx.Component]) -> rx.Component:
    """A definition list of (label, value) rows."""
    return rx.el.dl(
        *(
            rx.fragment(
                rx.el.dt(label, color=rx.color("gray", 11)),
                rx.el.dd(value, margin="0", min_width="0", overflow_wrap="anywhere"),
            )
            for label, value in rows
        ),
        display="grid",
        grid_template_columns="7.5rem minmax(0, 1fr)",
        gap="0.35rem 0.75rem",
        font_size="0.8125rem",
        margin="0",
        width="100%",
    )


def section(title: str, *children: rx.Component, **props) -> rx.Component:
    """A titled part of the inspector, with a rule above it."""
    return rx.el.section(
        rx.heading(title, as_="h3", size="2", weight="medium", margin_bottom="0.6rem"),
        *children,
        aria_label=title,
        padding_top="1rem",
        border_top=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        **props,
    )
