"""Status badges: a sandbox's or a task's status as a coloured dot and a word."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = (
    ("running", "green"),
    ("pending", "amber"),
    ("failed", "red"),
    ("stopped", "gray"),
    ("deleted", "gray"),
)


def status_badge(status: rx.Var[str], size: str = "2") -> rx.Component:
    """`● Running` in green, `● Pending` in amber, `● Failed` in red, otherwise grey."""
    return rx.badge(
        rx.box(
            width="0.45rem", height="0.45rem", border_radius="9999px", background="currentColor"
        ),
        rx.match(
            status,
            *((value, value.capitalize()) for value, _ in STATUS_COLORS),
            status,
        ),
        color_scheme=rx.match(status, *STATUS_COLORS, "gray"),
        variant="soft",
        radius="full",
        size=size,
        gap="0.4rem",
        white_space="nowrap",
    )


def event_type_badge(kind: rx.Var[str]) -> rx.Component:
    """A runtime event's type: Normal (grey) or Warning (amber)."""
    return rx.badge(
        kind,
        color_scheme=rx.cond(kind == "Warning", "amber", "gray"),
        variant="surface",
        size="1",
    )


TASK_STATUSES = (
    ("queued", "Queued", "gray"),
    ("running", "Running", "blue"),
    ("succeeded", "Succeeded", "green"),
    ("failed", "Failed", "red"),
    ("canceled", "Canceled", "gray"),
    ("timed_out", "Timed out", "orange"),
)


def dot_badge(
    status: rx.Var[str], choices: tuple[tuple[str, str, str], ...], size: str = "1"
) -> rx.Component:
    """A status as `● Label` in its colour; `choices` are (value, label, colour)."""
    return rx.badge(
        rx.box(width="0.4rem", height="0.4rem", border_radius="9999px", background="currentColor"),
        rx.match(status, *((value, label) for value, label, _ in choices), status),
        color_scheme=rx.match(status, *((value, color) for value, _, color in choices), "gray"),
        variant="soft",
        radius="full",
        size=size,
        gap="0.35rem",
        white_space="nowrap",
    )


def task_status_badge(status: rx.Var[str], size: str = "1") -> rx.Component:
    """A task's status: `● Running` in blue, `● Succeeded` in green, `● Timed out` in orange…"""
    return dot_badge(status, TASK_STATUSES, size)
