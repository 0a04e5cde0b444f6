"""Audit: who did what, when, and from where; filter the feed and open any event."""

from __future__ import annotations

import reflex as rx

from components.audit import EVENT_HEADERS, chain_status, event_detail_dialog, event_row
from components.feedback import empty_state, error_callout
from components.forms import (
    choice_field,
    error_at,
    field,
    field_error,
    field_hint,
    invalid_props,
    panel,
    unplaced,
)
from components.tables import data_table
from components.theme import TEXT_SECONDARY
from mbox_app.pages.frame import console_page
from state.audit import AuditState

TITLE = "Audit"
DESCRIPTION = "Who did what, when, and from where."

# (filter name, label, placeholder)
TEXT_FILTERS = (
    ("action", "Action", "project.updated"),
    ("resourceType", "Resource type", "sandbox"),
    ("actor", "Actor", "ci-bot"),
    ("source", "Source", "console"),
    ("requestId", "Request ID", "req-1234"),
    ("operation", "Operation", "sandbox.create"),
    ("since", "Since", "2026-01-31T09:00:00Z"),
    ("until", "Until", "2026-01-31T18:00:00Z"),
)


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            chain_status(
                AuditState.chain.status,
                AuditState.chain.words,
                busy=AuditState.verifying,
                on_verify=AuditState.verify_chain,
            ),
            filter_bar(),
            error_callout(unplaced(AuditState.error, AuditState.error_field)),
            event_table(),
            more(),
            spacing="4",
            align="stretch",
        ),
        event_detail_dialog(
            AuditState.detail,
            is_open=AuditState.detail_open,
            on_open_change=AuditState.set_detail_open,
        ),
        active="audit",
        title=TITLE,
        description=DESCRIPTION,
    )


def filter_bar() -> rx.Component:
    return panel(
        rx.form(
            rx.grid(
                project_filter(),
                *(text_filter(*spec) for spec in TEXT_FILTERS),
                columns=rx.breakpoints(initial="2", md="3", lg="5"),
                gap="0.75rem 1rem",
                width="100%",
            ),
            rx.hstack(
                field_hint("Exact matches; times in RFC 3339. Press Enter to filter."),
                rx.spacer(),
                rx.button(
                    "Clear",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AuditState.clear,
                ),
                rx.button(
                    rx.icon("list-filter", size=14),
                    "Filter",
                    type="submit",
                    loading=AuditState.loading,
                ),
                align="center",
                width="100%",
                margin_top="0.75rem",
            ),
            on_submit=AuditState.apply,
            reset_on_submit=False,
            aria_label="Filter audit events",
        ),
        padding="1rem 1.25rem",
    )


def project_filter() -> rx.Component:
    return choice_field(
        "Project",
        id="audit-project",
        value=AuditState.project,
        on_change=AuditState.set_project,
        options=AuditState.projects,
        width="100%",
    )


def text_filter(name: str, label: str, placeholder: str) -> rx.Component:
    control_id = f"audit-{name}"
    control = rx.input(
        id=control_id,
        name=name,
        value=AuditState.filters[name],
        on_change=lambda value: AuditState.set_filter(name, value),
        placeholder=placeholder,
        autocomplete="off",
        spellcheck=False,
        width="100%",
        **invalid_props(control_id, filter_error(name)),
    )
    below = field_error(control_id, filter_error(name))
    return field(label, control, below, html_for=control_id, width="100%")


def filter_error(name: str) -> rx.Var[str]:
    return error_at(AuditState.error, AuditState.error_field, name)


def event_table() -> rx.Component:
    return data_table(
        EVENT_HEADERS,
        AuditState.events,
        lambda event: event_row(event, on_open=AuditState.open_event),
        label="Audit events",
        empty=rx.cond(
            AuditState.error,
            rx.fragment(),
            empty_state(
                "scroll-text",
                "No events match",
                "Every change made through the API, the console or the engines is recorded "
                "here. Clear the filters to see the whole feed.",
            ),
        ),
    )


def more() -> rx.Component:
    return rx.hstack(
        rx.text(
            AuditState.events.length(),
            rx.cond(AuditState.events.length() == 1, " event", " events"),
            " shown, newest first",
            size="2",
            color=TEXT_SECONDARY,
        ),
        rx.spacer(),
        rx.cond(
            AuditState.has_more,
            rx.button(
                rx.icon("chevrons-down", size=14),
                "Load more",
                variant="soft",
                on_click=AuditState.load_more,
            ),
            rx.cond(
                AuditState.capped,
                field_hint("The newest 200 events; narrow the filters to see older ones."),
            ),
        ),
        align="center",
        width="100%",
    )
