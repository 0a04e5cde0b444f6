"""The sandbox's Events tab: what the runtime did with it, newest first."""

from __future__ import annotations

import reflex as rx

from components.badges import event_type_badge
from components.runtime import compact_table
from components.tables import muted


def events_layout(head: rx.Component, events: rx.Var[list], *, error: rx.Var[str]) -> rx.Component:
    return rx.box(
        head,
        rx.cond(
            error,
            muted(error),
            rx.cond(
                events.length() > 0,
                compact_table(
                    ["Time", "Type", "Reason", "Message"],
                    events,
                    event_row,
                    label="Runtime events",
                    widths=["6rem", "7rem", "9rem", ""],
                ),
                muted("No events yet."),
            ),
        ),
    )


def event_row(event: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(event.time, size="1", title=event.at, font_variant_numeric="tabular-nums"),
            white_space="nowrap",
        ),
        rx.table.cell(event_type_badge(event.type)),
        rx.table.cell(rx.text(event.reason, size="1", weight="medium"), white_space="nowrap"),
        rx.table.cell(rx.text(event.message, size="1", word_break="break-word")),
        align="center",
    )
