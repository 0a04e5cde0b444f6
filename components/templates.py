"""Template library pieces: a template's card, its validation badge, and a labelled select
over fixed options."""

from __future__ import annotations

import reflex as rx

from components.badges import dot_badge
from components.theme import TEXT_SECONDARY, TEXT_TERTIARY

VALIDATION_STATUSES = (
    ("passed", "Validated", "green"),
    ("failed", "Failed", "red"),
    ("testing", "Testing", "amber"),
    ("not_tested", "Not tested", "gray"),
)


def validation_badge(status: rx.Var[str]) -> rx.Component:
    """`● Validated` in green, `● Failed` in red, `● Testing` in amber, else `● Not tested`."""
    return dot_badge(status, VALIDATION_STATUSES)


def fact(icon: str, label: str, value: rx.Component | rx.Var[str]) -> rx.Component:
    """One line of a card: an icon, a quiet label for screen readers and the eye, a value."""
    return rx.hstack(
        rx.icon(icon, size=14, color=TEXT_TERTIARY, flex_shrink="0", aria_hidden="true"),
        rx.text(label, size="1", color=TEXT_TERTIARY, width="5.5rem", flex_shrink="0"),
        rx.box(value, min_width="0", overflow="hidden", text_overflow="ellipsis"),
        spacing="2",
        align="center",
        width="100%",
    )


def template_card(
    card: rx.Var,
    *,
    run: rx.Component,
    actions: rx.Component,
) -> rx.Component:
    """What a template launches, at a glance: name, scope, runtime and use case, image,
    entrypoints, size and workspace, validation; then its latest run and the actions."""
    return rx.el.article(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading(card.name, as_="h2", size="3", weight="medium"),
                    rx.text(card.slug, size="1", color=TEXT_TERTIARY),
                    spacing="0",
                    min_width="0",
                ),
                rx.spacer(),
                validation_badge(card.status),
                align="start",
                width="100%",
            ),
            rx.hstack(
                rx.badge(card.runtime_type, variant="surface", size="1"),
                rx.badge(
                    rx.cond(
                        card.scope == "global",
                        rx.icon("globe", size=12),
                        rx.icon("folder-kanban", size=12),
                    ),
                    card.scope_label,
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                ),
                rx.cond(card.builtin, rx.badge("Built-in", variant="outline", size="1")),
                rx.cond(
                    card.default_for,
                    rx.badge(
                        rx.icon("star", size=12),
                        "Default",
                        variant="soft",
                        color_scheme="amber",
                        size="1",
                        title="The default template of " + card.default_for,
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(
                rx.cond(card.use_case, card.use_case, "No use case given"),
                size="2",
                color=TEXT_SECONDARY,
            ),
            rx.vstack(
                fact(
                    "container",
                    "Image",
                    rx.code(card.image, variant="ghost", color_scheme="gray", size="1"),
                ),
                fact("door-open", "Entrypoints", rx.text(card.entrypoints, size="1")),
                fact("cpu", "Size", rx.text(card.size, size="1")),
                fact("hard-drive", "Workspace", rx.text(card.workspace, size="1")),
                spacing="1",
                width="100%",
            ),
            run,
            rx.box(flex="1"),
            actions,
            spacing="3",
            height="100%",
            align="stretch",
        ),
        aria_label=card.name,
        padding="1rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="0.75rem",
        background=rx.color("gray", 1),
        box_shadow="0 1px 2px rgba(16, 24, 40, 0.04)",
        min_width="0",
    )
