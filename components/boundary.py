"""A boundary summary: its checks as a checklist (status icon, label, status word, message,
evidence), then its facts grouped in plain words."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.runtime import tab_frame, tab_intro
from components.tables import muted
from components.theme import TEXT_SECONDARY, TEXT_TERTIARY

# status: (word, colour, icon)
CHECK_STATUSES = {
    "pass": ("Pass", "green", "circle-check"),
    "warn": ("Warning", "amber", "triangle-alert"),
    "fail": ("Fail", "red", "circle-x"),
}
# The icons fact groups may name (icons are static in the compiled page).
ICONS = ("id-card", "shield", "network", "key-round", "hourglass", "shield-check", "terminal")


def boundary_layout(
    checklist: rx.Component,
    groups: rx.Component,
    *,
    tally: rx.Var[str],
    loaded: rx.Var[bool],
    error: rx.Var[str],
    on_refresh: rx.EventHandler,
) -> rx.Component:
    return tab_frame(
        tab_intro(
            "What this sandbox may reach, and what the runtime really enforces.",
            on_refresh=on_refresh,
        ),
        rx.cond(
            loaded,
            rx.vstack(
                rx.hstack(
                    rx.heading("Checks", as_="h3", size="3", weight="medium"),
                    rx.text(tally, size="1", color=TEXT_SECONDARY),
                    spacing="3",
                    align="baseline",
                ),
                checklist,
                rx.heading("Facts", as_="h3", size="3", weight="medium", margin_top="0.5rem"),
                groups,
                spacing="3",
                align="stretch",
                width="100%",
            ),
            muted("Reading the boundary…"),
        ),
        error=error,
        width="100%",
    )


def checklist(checks: rx.Var[list], render: Any) -> rx.Component:
    return rx.el.ul(
        rx.foreach(checks, render),
        aria_label="Boundary checks",
        list_style="none",
        margin="0",
        padding="0",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="0.5rem",
        overflow="hidden",
    )


def check_row(check: rx.Var) -> rx.Component:
    """One check: status icon, label, status word, message, and its evidence as chips."""
    status = check.status
    return rx.el.li(
        rx.hstack(
            rx.match(
                status,
                *(
                    (key, rx.icon(icon, size=16, color=rx.color(colour, 10), aria_hidden="true"))
                    for key, (_, colour, icon) in CHECK_STATUSES.items()
                ),
                rx.icon("circle-help", size=16, color=TEXT_TERTIARY),
            ),
            rx.text(check.label, size="2", weight="medium", min_width="11rem"),
            check_status_badge(status),
            rx.vstack(
                rx.text(check.message, size="2", color=rx.color("gray", 12)),
                rx.cond(
                    check.evidence.length() > 0,
                    rx.hstack(
                        rx.foreach(check.evidence, evidence_chip),
                        spacing="1",
                        wrap="wrap",
                        aria_label="Evidence",
                    ),
                ),
                spacing="1",
                min_width="0",
                flex="1",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        aria_label=check.label,
        padding="0.6rem 0.9rem",
        border_top=f"1px solid {rx.color('gray', 4)}",
        background=rx.color("gray", 1),
        _first={"border_top": "none"},
    )


def check_status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        rx.match(status, *((key, word) for key, (word, _, _) in CHECK_STATUSES.items()), status),
        color_scheme=rx.match(
            status, *((key, colour) for key, (_, colour, _) in CHECK_STATUSES.items()), "gray"
        ),
        variant="soft",
        size="1",
        min_width="4.5rem",
        justify_content="center",
    )


def evidence_chip(text: rx.Var[str]) -> rx.Component:
    return rx.code(text, variant="soft", color_scheme="gray", size="1", word_break="break-all")


def fact_groups(groups: rx.Var[list]) -> rx.Component:
    return rx.grid(
        rx.foreach(groups, fact_group),
        columns=rx.breakpoints(initial="1", md="2"),
        gap="0.75rem",
        width="100%",
    )


def fact_group(group: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.match(
                group.icon,
                *((name, rx.icon(name, size=15, color=TEXT_TERTIARY)) for name in ICONS),
                rx.icon("info", size=15, color=TEXT_TERTIARY),
            ),
            rx.heading(group.title, as_="h4", size="2", weight="medium"),
            spacing="2",
            align="center",
            margin_bottom="0.5rem",
        ),
        rx.vstack(rx.foreach(group.facts, fact_line), spacing="1", align="stretch"),
        role="region",
        aria_label=group.title,
        padding="0.75rem 0.9rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="0.5rem",
        background=rx.color("gray", 2),
    )


def fact_line(fact: rx.Var) -> rx.Component:
    return rx.cond(
        fact.label,
        rx.hstack(
            rx.text(fact.label, size="1", color=TEXT_SECONDARY, min_width="9.5rem"),
            rx.text(fact.value, size="1", word_break="break-word", min_width="0"),
            spacing="2",
            align="start",
        ),
        rx.hstack(
            rx.icon("check", size=12, color=TEXT_TERTIARY, margin_top="0.2rem"),
            rx.text(fact.value, size="1", word_break="break-word", min_width="0"),
            spacing="2",
            align="start",
        ),
    )
