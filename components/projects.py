"""Pieces of the project inspector: titled sections."""

from __future__ import annotations

import reflex as rx


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
