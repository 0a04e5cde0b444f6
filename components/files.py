"""Workspace files: an icon per entry type and a breadcrumb trail."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx


def file_icon(kind: rx.Var[str]) -> rx.Component:
    """A folder, a file, a link, or a question mark for anything else."""
    return rx.match(
        kind,
        ("directory", rx.icon("folder", size=16, color=rx.color("accent", 10), flex_shrink="0")),
        ("file", rx.icon("file-text", size=16, color=rx.color("gray", 10), flex_shrink="0")),
        ("symlink", rx.icon("link", size=16, color=rx.color("gray", 10), flex_shrink="0")),
        rx.icon("file-question", size=16, color=rx.color("gray", 10), flex_shrink="0"),
    )


def breadcrumbs(
    crumbs: rx.Var[list], on_open: Callable[[rx.Var[str]], rx.EventSpec], *, label: str
) -> rx.Component:
    """`Workspace / notes / todo.txt`: every crumb but the last opens its folder."""
    last = crumbs.length() - 1

    def crumb(item: rx.Var, index: rx.Var[int]) -> rx.Component:
        return rx.hstack(
            rx.cond(index > 0, rx.icon("chevron-right", size=14, color=rx.color("gray", 8))),
            rx.cond(
                index == last,
                rx.text(item.label, size="2", weight="medium", aria_current="location"),
                rx.button(
                    item.label,
                    on_click=on_open(item.path),
                    variant="ghost",
                    size="2",
                    margin="0",
                    padding="0 0.25rem",
                    height="1.5rem",
                ),
            ),
            spacing="1",
            align="center",
        )

    return rx.el.nav(
        rx.hstack(rx.foreach(crumbs, crumb), spacing="1", align="center", wrap="wrap"),
        aria_label=label,
        min_width="0",
    )
