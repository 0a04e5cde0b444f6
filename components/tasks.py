"""A task's log: one output stream, monospaced, that stays scrolled to its newest line."""

from __future__ import annotations

import reflex as rx

MONO = "var(--code-font-family)"


def output_block(text: rx.Var[str], *, label: str, empty: rx.Var[str] | str) -> rx.Component:
    """A scrollable stream; while it grows it stays at the bottom (a column-reversed
    scroller anchors to its end), `empty` in words when there is nothing."""
    return rx.cond(
        text,
        rx.box(
            rx.el.pre(
                text,
                margin="0",
                white_space="pre-wrap",
                word_break="break-all",
                font_family=MONO,
                font_size="0.8125rem",
                line_height="1.55",
                color=rx.color("gray", 12),
            ),
            role="log",
            aria_label=label,
            tab_index=0,
            display="flex",
            flex_direction="column-reverse",
            max_height="18rem",
            overflow="auto",
            padding="0.75rem 1rem",
            background=rx.color("gray", 2),
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="0.5rem",
        ),
        rx.box(
            rx.text(empty, size="1", color=rx.color("gray", 10)),
            role="log",
            aria_label=label,
            padding="0.6rem 1rem",
            border=f"1px dashed {rx.color('gray', 5)}",
            border_radius="0.5rem",
        ),
    )


def stream_header(
    name: str, size: rx.Var[str], note: rx.Var[str], *actions: rx.Component
) -> rx.Component:
    """`stdout · 12 B`, a note when only part is shown, and actions on the right."""
    return rx.hstack(
        rx.text(name, size="1", weight="medium", font_family=MONO),
        rx.text(size, size="1", color=rx.color("gray", 10), font_variant_numeric="tabular-nums"),
        rx.cond(note, rx.text(note, size="1", color=rx.color("amber", 11))),
        rx.spacer(),
        *actions,
        align="center",
        spacing="2",
        width="100%",
        min_height="1.5rem",
    )
