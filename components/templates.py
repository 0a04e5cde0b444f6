"""Template library pieces: a template's card, its validation badge, and a labelled select
over fixed options."""

from __future__ import annotations

import reflex as rx

from components.badges import dot_badge
from components.runtime import log_view
from components.theme import MONO, SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY, clamp

VALIDATION_STATUSES = (
    ("passed", "Validated", "green"),
    ("failed", "Failed", "red"),
    ("testing", "Testing", "amber"),
    ("not_tested", "Not tested", "gray"),
)


# One line, cut with an ellipsis where the box ends (the whole text is the title).
ONE_LINE = {
    "overflow": "hidden",
    "text_overflow": "ellipsis",
    "white_space": "nowrap",
    "max_width": "100%",
}


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
                    rx.heading(
                        card.name,
                        as_="h2",
                        size="3",
                        weight="medium",
                        title=card.name,
                        **ONE_LINE,
                    ),
                    rx.text(card.slug, size="1", color=TEXT_TERTIARY, title=card.slug, **ONE_LINE),
                    spacing="0",
                    min_width="0",
                    flex="1",
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
                    rx.text(card.scope_label, title=card.scope_label, **ONE_LINE),
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    max_width="14rem",
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
                title=card.use_case,
                **clamp(3),
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
                rx.cond(
                    card.has_build,
                    fact(
                        "hammer",
                        "Build",
                        rx.text(
                            card.build_base,
                            " · ",
                            card.build_packages.length().to_string(),
                            " packages",
                            size="1",
                        ),
                    ),
                ),
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


BUILD_STATE_COLORS = (
    ("built", "green"),
    ("building", "amber"),
    ("failed", "red"),
)


def _term(label: str) -> rx.Component:
    return rx.el.dt(label, color=TEXT_SECONDARY)


def _definition(*children, **props) -> rx.Component:
    return rx.el.dd(*children, margin="0", min_width="0", **props)


def _listing(items: rx.Var[list], empty: str) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.el.ul(
            rx.foreach(items, lambda item: rx.el.li(item, font_family=MONO)),
            margin="0",
            padding_left="1.1rem",
        ),
        rx.text(empty, color=TEXT_TERTIARY),
    )


def build_recipe(card: rx.Var) -> rx.Component:
    """The template's image, pull policy and build recipe (base, user, packages, files)."""
    return rx.el.dl(
        _term("Image"),
        _definition(rx.code(card.image, variant="ghost", color_scheme="gray")),
        _term("Pull policy"),
        _definition(
            rx.cond(
                card.pull_policy,
                card.pull_policy,
                "Default (Kubernetes' rule for the image's tag)",
            )
        ),
        _term("Build recipe"),
        _definition(
            rx.cond(
                card.has_build,
                "Built on the server from a Debian base; the local runtime runs it "
                "instead of pulling the image.",
                "None: the runtime pulls the image.",
            )
        ),
        rx.cond(
            card.has_build,
            rx.fragment(
                _term("Base"),
                _definition(rx.code(card.build_base, variant="ghost", color_scheme="gray")),
                _term("Runs as"),
                _definition(card.build_user),
                _term("Packages"),
                _definition(_listing(card.build_packages, "None")),
                _term("Files"),
                _definition(_listing(card.build_files, "None")),
            ),
        ),
        display="grid",
        grid_template_columns="7rem minmax(0, 1fr)",
        gap="0.35rem 0.75rem",
        font_size=SMALL_TEXT,
        margin="0",
        width="100%",
        aria_label="Build recipe",
    )


def build_status(
    *,
    state: rx.Var[str],
    label: rx.Var[str],
    reference: rx.Var[str],
    digest: rx.Var[str],
    message: rx.Var[str],
    log: rx.Var[str],
    error: rx.Var[str],
) -> rx.Component:
    """Where the build stands on the runtime: its state, image, message and log."""
    return rx.vstack(
        rx.hstack(
            rx.text("Build", weight="medium", size="2"),
            rx.cond(
                label,
                rx.badge(
                    label,
                    color_scheme=rx.match(state, *BUILD_STATE_COLORS, "gray"),
                    variant="soft",
                    title=state,
                    data_state=state,
                    aria_label="Build state: " + label,
                ),
            ),
            rx.cond(state == "building", rx.spinner(size="1")),
            align="center",
            spacing="2",
        ),
        rx.cond(
            error,
            rx.callout.root(
                rx.callout.text(error), color_scheme="red", size="1", role="alert", width="100%"
            ),
        ),
        rx.cond(message, rx.text(message, size="2", color=TEXT_SECONDARY)),
        rx.cond(
            reference,
            rx.text(
                "Image ",
                rx.code(reference, variant="ghost", color_scheme="gray"),
                rx.cond(digest, rx.fragment(" · ", rx.code(digest, variant="ghost"))),
                size="1",
                color=TEXT_TERTIARY,
                word_break="break-all",
            ),
        ),
        rx.cond(
            (state != "none") & (state != "unsupported") & (state != ""),
            log_view(log, label="Build log", empty="No build output yet.", max_height="18rem"),
        ),
        spacing="2",
        align="stretch",
        width="100%",
    )
