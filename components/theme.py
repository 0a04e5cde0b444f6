"""Theme constants the console's components share: fonts, sizes and the outlines of
panels, as theme tokens (`rx.color`), so the light/dark toggle covers them."""

from __future__ import annotations

import reflex as rx

MONO = "var(--code-font-family)"  # ids, paths, commands, output
SMALL_TEXT = "0.8125rem"  # code blocks, labels, compact selects
CODE_LINE_HEIGHT = "1.55"
RADIUS = "0.5rem"  # code blocks, previews, empty boxes
BORDER = f"1px solid {rx.color('gray', 5)}"
DASHED_BORDER = f"1px dashed {rx.color('gray', 5)}"
SURFACE = rx.color("gray", 2)  # behind code and images
TEXT_SECONDARY = rx.color("gray", 11)  # descriptions, labels, hints
TEXT_TERTIARY = rx.color("gray", 10)  # times, sizes, icons beside text
# A code block's text, and the frame around code and images (spread into props: **FRAMED).
CODE_TEXT = {
    "font_family": MONO,
    "font_size": SMALL_TEXT,
    "line_height": CODE_LINE_HEIGHT,
    "color": rx.color("gray", 12),
}
FRAMED = {"background": SURFACE, "border": BORDER, "border_radius": RADIUS}


def clamp(lines: int) -> dict:
    """Props that wrap long words and cut text after `lines` lines with an ellipsis (spread
    into a text's props; give it the whole text as its `title`)."""
    return {
        "overflow_wrap": "anywhere",
        "overflow": "hidden",
        "display": "-webkit-box",
        "style": {"WebkitLineClamp": str(lines), "WebkitBoxOrient": "vertical"},
    }
