"""A notebook: cells of code, each with its Run button (Shift+Enter too), its execution
count and its output. What the output holds came from a sandbox: text stays text, HTML
only inside a sandboxed iframe (no scripts, no same origin), images only as <img>."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from components.feedback import error_callout, notice_callout
from components.theme import CODE_TEXT, FRAMED, MONO, SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY

# Shift+Enter in a cell runs it (the form's submit) instead of adding a line.
SHIFT_ENTER = rx.Var(
    "((e) => { if (e.key === 'Enter' && e.shiftKey) "
    "{ e.preventDefault(); e.currentTarget.requestSubmit(); } })"
)


def notebook(
    intro: rx.Component,
    cells: rx.Var[list],
    cell: Callable[[rx.Var], rx.Component],
    *,
    blocked: rx.Var[str] | str,
    busy: rx.Var[bool],
    on_add: Any,
    on_restart: Any,
    on_clear: Any,
    error: rx.Var[str],
    notice: rx.Var[str],
) -> rx.Component:
    """The tab: what it is, its toolbar, then the cells (or why code cannot run now)."""
    return rx.vstack(
        intro,
        error_callout(error),
        notice_callout(notice),
        rx.cond(
            blocked,
            rx.callout(blocked, icon="info", color_scheme="gray", size="1", role="status"),
            rx.fragment(
                rx.hstack(
                    rx.button(rx.icon("plus", size=14), "Add cell", on_click=on_add, size="1",
                              variant="soft"),
                    rx.button(rx.icon("rotate-ccw", size=14), "Restart kernel",
                              on_click=on_restart, loading=busy, size="1", variant="soft",
                              color_scheme="gray"),
                    rx.button("Clear outputs", on_click=on_clear, size="1", variant="ghost",
                              color_scheme="gray"),
                    spacing="2",
                    align="center",
                ),
                rx.vstack(rx.foreach(cells, cell), spacing="3", align="stretch", width="100%"),
            ),
        ),
        spacing="3",
        align="stretch",
        width="100%",
    )  # fmt: skip


def cell_view(
    cell: rx.Var,
    *,
    on_run: Any,
    on_remove: Any,
    output: Callable[[rx.Var], rx.Component],
) -> rx.Component:
    """One cell: `[n]`, the code and its buttons, then its output."""
    return rx.box(
        rx.form(
            rx.hstack(
                rx.text(
                    "[" + cell.count.to(str) + "]",
                    font_family=MONO,
                    size="1",
                    color=TEXT_TERTIARY,
                    min_width="2.5rem",
                    padding_top="0.5rem",
                    aria_label="Execution count",
                ),
                rx.el.input(type="hidden", name="cell", value=cell.id),
                rx.text_area(
                    name="code",
                    default_value=cell.code,
                    placeholder="Python: print('hi'), 1 + 1 ... (Shift+Enter runs)",
                    aria_label="Code",
                    rows="3",
                    resize="vertical",
                    spell_check=False,
                    auto_complete=False,
                    font_family=MONO,
                    font_size=SMALL_TEXT,
                    width="100%",
                    # Grows with its code where the browser can (rows otherwise).
                    style={"& textarea": {"fieldSizing": "content", "maxHeight": "32rem"}},
                    custom_attrs={"data-notebook-cell": cell.id},
                ),
                rx.vstack(
                    rx.button(
                        rx.icon("play", size=14),
                        "Run",
                        type="submit",
                        loading=cell.running,
                        size="1",
                        aria_label="Run cell",
                    ),
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        type="button",
                        on_click=on_remove(cell.id),
                        disabled=cell.running,
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Delete cell",
                        title="Delete cell",
                    ),
                    spacing="2",
                    align="center",
                ),
                spacing="2",
                align="start",
                width="100%",
            ),
            on_submit=on_run,
            custom_attrs={"onKeyDown": SHIFT_ENTER},
        ),
        rx.cond(cell.problem, rx.text(cell.problem, size="2", color="red", role="alert")),
        rx.vstack(
            rx.foreach(cell.outputs, output),
            spacing="2",
            align="stretch",
            padding_left="3rem",
            aria_live="polite",
        ),
        key=cell.id,
        data_testid="notebook-cell",
        width="100%",
    )


def output_view(output: rx.Var) -> rx.Component:
    """One block of output, by its kind."""
    return rx.match(
        output.kind,
        ("stderr", _text_block(output.text, "Standard error", color=rx.color("red", 11))),
        ("error", _error_block(output)),
        ("html", _html_block(output.text)),
        ("image", _image_block(output)),
        ("text", _text_block(output.text, "Result")),
        _text_block(output.text, "Standard output"),
    )


def _text_block(text: rx.Var, label: str, **props: Any) -> rx.Component:
    return rx.el.pre(
        text,
        aria_label=label,
        data_output=label,
        margin="0",
        white_space="pre-wrap",
        word_break="break-word",
        max_height="24rem",
        overflow="auto",
        **(CODE_TEXT | props),
    )


def _error_block(output: rx.Var) -> rx.Component:
    return rx.box(
        rx.text(output.label, weight="bold", size="2", color="red"),
        _text_block(output.text, "Traceback", color=TEXT_SECONDARY),
        role="alert",
        padding="0.5rem 0.75rem",
        **FRAMED,
    )


def _html_block(document: rx.Var) -> rx.Component:
    """HTML from the sandbox: an iframe that runs no script, is of no origin, and (by the
    document's own CSP) fetches nothing."""
    return rx.el.iframe(
        src_doc=document,
        sandbox="",
        referrer_policy="no-referrer",
        title="HTML output",
        width="100%",
        height="240",
        style={"border": "none", "background": "white", "resize": "vertical"},
    )


def _image_block(output: rx.Var) -> rx.Component:
    """At its own size (a chart stays as matplotlib drew it), narrower when it must be."""
    return rx.el.img(
        src=output.text,
        alt=output.label,
        style={"maxWidth": "100%", "height": "auto", "background": "white"},
    )
