"""Runtime sessions: who and what attached to a sandbox, with Attach (terminals), End
(sessions clients opened) and terminal recordings."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.badges import dot_badge
from components.runtime import compact_table, tab_frame, tab_intro
from components.tables import muted
from components.theme import MONO, TEXT_TERTIARY

SESSION_STATUSES = (
    ("active", "Active", "green"),
    ("ended", "Ended", "gray"),
    ("failed", "Failed", "red"),
)
SESSION_TYPES = (
    ("terminal", "Terminal", "square-terminal"),
    ("ide", "IDE", "code"),
    ("notebook", "Notebook", "notebook-pen"),
    ("browser", "Browser", "globe"),
    ("command", "Command", "terminal"),
    ("custom", "Custom", "plug"),
)


def session_status_badge(status: rx.Var[str]) -> rx.Component:
    """`● Active` in green, `● Ended` in grey, `● Failed` in red."""
    return dot_badge(status, SESSION_STATUSES)


def session_type(kind: rx.Var[str]) -> rx.Component:
    return rx.hstack(
        rx.match(
            kind,
            *(
                (value, rx.icon(icon, size=14, color=TEXT_TERTIARY))
                for value, _, icon in SESSION_TYPES
            ),
            rx.icon("plug", size=14, color=TEXT_TERTIARY),
        ),
        rx.text(
            rx.match(kind, *((value, label) for value, label, _ in SESSION_TYPES), kind),
            size="1",
            weight="medium",
        ),
        spacing="2",
        align="center",
        white_space="nowrap",
    )


def sessions_layout(
    table: rx.Component,
    *,
    has_sessions: rx.Var[bool],
    loaded: rx.Var[bool],
    error: rx.Var[str],
    notice: rx.Var[str],
    grace: rx.Var[str],
    on_refresh: rx.EventHandler,
) -> rx.Component:
    """What the tab is for, then the table (or why it is empty)."""
    return tab_frame(
        tab_intro(
            "Who and what attached to this sandbox, newest first. A terminal keeps running for ",
            grace,
            " after its last window closes: Attach picks it up.",
            on_refresh=on_refresh,
        ),
        rx.cond(
            has_sessions,
            rx.box(table, overflow_x="auto", width="100%"),
            rx.cond(
                loaded & ~error,
                muted("No sessions yet: terminals opened here, and IDEs or notebooks, show up."),
                rx.cond(~loaded, rx.skeleton(height="5rem")),
            ),
        ),
        error=error,
        notice=notice,
    )


def sessions_table(
    sessions: rx.Var[list], render_row: Callable[[rx.Var], rx.Component]
) -> rx.Component:
    return compact_table(
        ["Type", "Client", "Status", "Started", "Duration", "Browser", "Terminal", "Recording", ""],
        sessions,
        render_row,
        label="Sessions",
        widths=["7rem", "", "6rem", "5rem", "5rem", "", "6rem", "", "6rem"],
    )


def session_row(
    item: rx.Var,
    *,
    current: rx.Var[bool],
    on_attach: rx.EventSpec,
    on_end: rx.EventSpec,
) -> rx.Component:
    """One session: Attach for a terminal that may still run ("This window" for the one shown
    here), End for a session a client opened, the recording once the terminal ended."""
    small = {"size": "1", "white_space": "nowrap"}
    return rx.table.row(
        rx.table.cell(session_type(item.type)),
        rx.table.cell(rx.text(item.client, size="1", word_break="break-word")),
        rx.table.cell(
            rx.vstack(
                session_status_badge(item.status),
                rx.cond(item.error, rx.text(item.error, size="1", color=rx.color("red", 11))),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.text(item.started, title=item.started_full, font_variant_numeric="tabular-nums"),
            **small,
        ),
        rx.table.cell(
            rx.text(item.duration, font_variant_numeric="tabular-nums"),
            **small,
        ),
        rx.table.cell(rx.text(item.browser, size="1", title=item.user_agent)),
        rx.table.cell(
            rx.cond(
                item.terminal_short,
                rx.text(item.terminal_short, size="1", font_family=MONO, title=item.terminal_id),
            )
        ),
        rx.table.cell(
            rx.cond(
                item.recording_url,
                rx.link(
                    rx.icon("download", size=12),
                    " Recording · ",
                    item.recording_size,
                    href=item.recording_url,
                    size="1",
                    aria_label="Download the terminal recording (" + item.recording_size + ")",
                    custom_attrs={"download": ""},
                    white_space="nowrap",
                ),
            )
        ),
        rx.table.cell(
            rx.cond(
                item.attachable,
                rx.cond(
                    current,
                    rx.text(
                        "This window",
                        size="1",
                        color=TEXT_TERTIARY,
                        **{"white_space": "nowrap"},
                    ),
                    rx.button(
                        "Attach",
                        on_click=on_attach,
                        aria_label="Attach to terminal " + item.terminal_short,
                        size="1",
                        variant="soft",
                    ),
                ),
                rx.cond(
                    item.endable,
                    rx.button(
                        "End",
                        on_click=on_end,
                        aria_label="End session " + rx.cond(item.client, item.client, item.type),
                        size="1",
                        variant="soft",
                        color_scheme="red",
                    ),
                ),
            )
        ),
        align="center",
    )
