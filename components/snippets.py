"""Code snippets: a choice of language, the snippet in a monospaced block, and Copy."""

from __future__ import annotations

import reflex as rx

from components.feedback import error_callout, notice_callout
from components.theme import MONO, TEXT_SECONDARY


def snippet_panel(
    intro: rx.Component,
    choices: list[tuple[str, str]],
    *,
    shown: rx.Var[str],
    text: rx.Var[str],
    on_show: rx.EventHandler,
    on_copy: rx.EventHandler,
    error: rx.Var[str],
    notice: rx.Var[str],
) -> rx.Component:
    """`choices` are (key, label) pairs; the shown one's `text` is the block, named by its
    label for assistive technology."""
    return rx.vstack(
        intro,
        rx.hstack(
            rx.segmented_control.root(
                *(rx.segmented_control.item(label, value=key) for key, label in choices),
                value=shown,
                on_change=on_show,
                size="1",
                aria_label="Language",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("copy", size=14),
                "Copy",
                on_click=on_copy,
                size="1",
                variant="soft",
                disabled=~rx.State.is_hydrated,
            ),
            align="center",
            width="100%",
        ),
        error_callout(error),
        notice_callout(notice),
        rx.el.pre(
            rx.el.code(text),
            role="region",
            aria_label="Snippet",
            font_family=MONO,
            font_size="0.8rem",
            line_height="1.5",
            white_space="pre",
            overflow_x="auto",
            padding="0.75rem 1rem",
            margin="0",
            border_radius="0.5rem",
            background=rx.color("gray", 2),
            border=f"1px solid {rx.color('gray', 4)}",
        ),
        rx.text(
            "The token is only ever named as $MBOX_TOKEN: set it to one of your API tokens "
            "before running a snippet. Nothing here holds a token.",
            size="1",
            color=TEXT_SECONDARY,
        ),
        spacing="3",
        align="stretch",
    )
