"""Audit events: a table row that opens its details, the details dialog, and a compact list.

Events are the state's formatted items (`action`, `subject`, `resource_type`, `actor_source`,
`request_id`, `time`, `created_at`, `fields` of label/value, `metadata_json`).
"""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.tables import clipped, mono, muted
from components.theme import MONO, SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY

EVENT_HEADERS = ["Time", "Action", "Subject", "Actor · source", "Request ID"]


def event_row(event: rx.Var, *, on_open: Callable[[rx.Var], rx.EventSpec]) -> rx.Component:
    """A row that opens the event's details when clicked; its action is a button, so the
    keyboard reaches it with Tab and opens it with Enter."""
    return rx.table.row(
        rx.table.cell(muted(event.time), title=event.created_at, white_space="nowrap"),
        rx.table.row_header_cell(
            rx.button(
                event.action,
                variant="ghost",
                size="1",
                font_family=MONO,
                aria_label=f"Details of {event.action} on {event.subject}",
                aria_haspopup="dialog",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.vstack(
                rx.cond(
                    event.subject_href,
                    rx.link(
                        clipped(event.subject, size="2", weight="medium"),
                        href=event.subject_href,
                        max_width="100%",
                        on_click=rx.stop_propagation,  # the link, not the row's details
                    ),
                    clipped(event.subject, size="2", weight="medium"),
                ),
                rx.text(event.resource_type, size="1", color=TEXT_TERTIARY),
                spacing="0",
                min_width="0",
            ),
            max_width="16rem",
            overflow="hidden",
        ),
        rx.table.cell(muted(event.actor_source), white_space="nowrap"),
        rx.table.cell(
            rx.cond(event.request_id, mono(event.request_id), muted("—")),
            max_width="14rem",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
        ),
        on_click=on_open(event.id),
        cursor="pointer",
        align="center",
        _hover={"background": rx.color("gray", 3)},
    )


def event_detail_dialog(
    detail: rx.Var, *, is_open: rx.Var[bool], on_open_change: rx.EventHandler
) -> rx.Component:
    """Every field of one event, then its metadata as pretty-printed JSON."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(detail.action),
            rx.dialog.description(
                detail.subject, " · ", detail.created_at, size="2", color=TEXT_SECONDARY
            ),
            rx.el.dl(
                rx.foreach(detail.fields, _detail_field),
                display="grid",
                grid_template_columns="9rem minmax(0, 1fr)",
                gap="0.35rem 1rem",
                margin="1rem 0",
                font_size=SMALL_TEXT,
            ),
            rx.heading("Metadata", as_="h3", size="2", weight="medium"),
            rx.el.pre(
                detail.metadata_json,
                aria_label="Metadata",
                margin="0.5rem 0 0",
                padding="0.75rem 1rem",
                max_height="16rem",
                overflow="auto",
                white_space="pre-wrap",
                word_break="break-all",
                font_family=MONO,
                font_size="0.75rem",
                color=rx.color("gray", 12),
                background=rx.color("gray", 2),
                border=f"1px solid {rx.color('gray', 5)}",
                border_radius="0.5rem",
            ),
            rx.flex(
                rx.cond(
                    detail.project_href,
                    rx.link("Open the project", href=detail.project_href, size="2"),
                ),
                rx.spacer(),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                align="center",
                margin_top="1rem",
            ),
            max_width="40rem",
        ),
        open=is_open,
        on_open_change=on_open_change,
    )


def _detail_field(field: rx.Var) -> rx.Component:
    return rx.fragment(
        rx.el.dt(field.label, color=TEXT_SECONDARY),
        rx.el.dd(field.value, margin="0", word_break="break-all"),
    )


def recent_events(events: rx.Var[list], *, empty: str) -> rx.Component:
    """A short list of events: action, subject, actor · source and time."""
    return rx.cond(
        events.length() > 0,
        rx.el.ul(
            rx.foreach(events, _recent_event),
            list_style="none",
            margin="0",
            padding="0",
            width="100%",
        ),
        muted(empty),
    )


def _recent_event(event: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.code(event.action, variant="soft", size="1"),
            rx.spacer(),
            rx.text(
                event.time,
                size="1",
                color=TEXT_TERTIARY,
                title=event.created_at,
                white_space="nowrap",
            ),
            align="center",
            width="100%",
        ),
        rx.text(
            event.subject,
            " · ",
            event.actor_source,
            size="1",
            color=TEXT_SECONDARY,
            title=event.subject,
            margin_top="0.2rem",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
        ),
        padding="0.5rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        min_width="0",
    )


def chain_status(
    status: rx.Var[str], words: rx.Var[str], *, busy: rx.Var[bool], on_verify: rx.EventHandler
) -> rx.Component:
    """Whether the audit trail's hash chain is intact, in words, and a way to check again."""
    color = rx.match(status, ("verified", "green"), ("broken", "red"), "gray")
    return rx.callout.root(
        rx.flex(
            rx.callout.icon(
                rx.match(
                    status,
                    ("verified", rx.icon("shield-check")),
                    ("broken", rx.icon("shield-alert")),
                    rx.icon("shield"),
                )
            ),
            rx.callout.text(rx.cond(words, words, "Verifying the audit chain…"), id="chain-status"),
            rx.spacer(),
            rx.button("Verify again", size="1", variant="soft", loading=busy, on_click=on_verify),
            align="center",
            gap="0.75rem",
            width="100%",
        ),
        color_scheme=color,
        size="1",
        role="region",
        aria_label="Audit chain",
        aria_live="polite",
    )
