"""Small charts drawn with CSS (no chart library to ship): horizontal bars and a meter.

Each chart is an image to assistive technology, named by a sentence that says what it
shows (`Tasks by outcome: 2 succeeded, 1 failed, ...`), so its numbers are never only
visual. Bars are items with `label`, `value`, `width` (a CSS length) and `color` (a theme
colour token such as `var(--green-9)`, which follows light and dark themes).
"""

from __future__ import annotations

import reflex as rx

from components.theme import SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY


def chart_frame(title: str, chart: rx.Component, *notes: rx.Component) -> rx.Component:
    return rx.el.figure(
        rx.el.figcaption(title, font_size=SMALL_TEXT, font_weight="500", margin_bottom="0.5rem"),
        chart,
        *notes,
        margin="0",
        width="100%",
    )


def bar_chart(title: str, bars: rx.Var[list], *, summary: rx.Var[str]) -> rx.Component:
    """One row per bar: label, a bar scaled to the largest value, and the count."""
    return chart_frame(
        title,
        rx.box(
            rx.foreach(bars, _bar),
            role="img",
            aria_label=summary,
            display="grid",
            grid_template_columns="5.5rem minmax(0, 1fr) 2.5rem",
            gap="0.3rem 0.6rem",
            align_items="center",
        ),
    )


def _bar(bar: rx.Var) -> rx.Component:
    return rx.fragment(
        rx.text(bar.label, size="1", color=TEXT_SECONDARY, aria_hidden="true"),
        rx.box(
            rx.box(
                width=bar.width,
                min_width=rx.cond(bar.value > 0, "0.25rem", "0"),
                height="100%",
                background=bar.color,
                border_radius="0.25rem",
            ),
            height="0.6rem",
            background=rx.color("gray", 3),
            border_radius="0.25rem",
        ),
        rx.text(bar.value, size="1", weight="medium", text_align="right", aria_hidden="true"),
    )


def meter(
    title: str,
    *,
    value: rx.Var[str],
    width: rx.Var[str],
    note: rx.Var[str],
    summary: rx.Var[str],
) -> rx.Component:
    """A value in words, and a filled track when there is a limit (`width` set)."""
    return chart_frame(
        title,
        rx.box(
            rx.text(value, size="3", weight="medium"),
            rx.cond(
                width,
                rx.box(
                    rx.box(
                        width=width,
                        height="100%",
                        background=rx.color("accent", 9),
                        border_radius="0.25rem",
                    ),
                    height="0.6rem",
                    margin_top="0.4rem",
                    background=rx.color("gray", 3),
                    border_radius="0.25rem",
                ),
            ),
            rx.text(note, size="1", color=TEXT_TERTIARY, margin_top="0.3rem"),
            role="img",
            aria_label=summary,
        ),
    )


def sparkline(title: str | rx.Var[str], chart: rx.Var) -> rx.Component:
    """A resource over time: its latest value and limit in words, then one thin bar per
    sample, oldest first (`chart.bars`: `height` a percentage, `known`, `title`). An
    unknown sample is an empty slot, never a bar of 0."""
    return rx.el.figure(
        rx.el.figcaption(
            rx.text(title, size="1", color=TEXT_SECONDARY, weight="medium"),
            rx.text(chart.value, size="3", weight="bold", font_variant_numeric="tabular-nums"),
            rx.text(chart.note, size="1", color=TEXT_TERTIARY),
        ),
        rx.box(
            rx.foreach(
                chart.bars,
                lambda bar: rx.box(
                    height=rx.cond(bar.known, bar.height, "100%"),
                    min_height=rx.cond(bar.known, "1px", "0"),
                    background=rx.cond(bar.known, rx.color("accent", 9), "transparent"),
                    border_bottom=rx.cond(bar.known, "0", f"1px dashed {rx.color('gray', 7)}"),
                    flex="1",
                    title=bar.title,
                ),
            ),
            role="img",
            aria_label=chart.summary,
            display="flex",
            align_items="flex-end",
            gap="1px",
            height="2.5rem",
            margin_top="0.4rem",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
        ),
        margin="0",
        min_width="0",
    )
