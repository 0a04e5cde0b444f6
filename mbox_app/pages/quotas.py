"""Quotas: a project's limits (editable with the govern permission) and its usage against
each, as bars."""

from __future__ import annotations

import reflex as rx

from components.feedback import empty_state, error_callout, notice_callout
from components.forms import choice_field, field_hint, panel, unplaced
from components.policies import limit_input, project_picker, save_button, usage_bar
from mbox_app.pages.frame import console_page
from state.quotas import QuotasState

TITLE = "Quotas"
DESCRIPTION = "Limits on what each project may run and keep, and its usage now."


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            rx.hstack(
                project_picker(QuotasState.project, QuotasState.set_project, QuotasState.projects),
                rx.spacer(),
                rx.text(QuotasState.updated, size="2", color="gray"),
                align="end",
                width="100%",
            ),
            notice_callout(QuotasState.notice),
            error_callout(unplaced(QuotasState.error, QuotasState.error_field)),
            rx.cond(
                QuotasState.project != "",
                rx.grid(
                    panel(usage(), padding="1.25rem"),
                    panel(limits_form(), padding="1.25rem"),
                    columns=rx.breakpoints(initial="1", lg="minmax(0, 3fr) minmax(0, 2fr)"),
                    gap="1.5rem",
                    width="100%",
                ),
                rx.cond(
                    QuotasState.loaded,
                    empty_state(
                        "folder-kanban",
                        "No project to govern",
                        "Quotas belong to a project: create one first.",
                    ),
                ),
            ),
            spacing="4",
            align="stretch",
        ),
        active="quotas",
        title=TITLE,
        description=DESCRIPTION,
    )


def usage() -> rx.Component:
    return rx.vstack(
        rx.heading("Usage", as_="h2", size="3", weight="medium"),
        rx.cond(
            QuotasState.enforcement == "enforced",
            field_hint("Enforced: what would take a project past a limit is denied."),
            field_hint("Not enforced: the bars show the limits as they would apply."),
        ),
        rx.box(rx.foreach(QuotasState.bars, usage_bar), role="list", width="100%"),
        spacing="2",
        align="stretch",
        role="region",
        aria_label="Quota usage",
    )


def limits_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("Limits", as_="h2", size="3", weight="medium"),
            choice_field(
                "Enforcement",
                id="quota-enforcement",
                value=QuotasState.enforcement,
                on_change=QuotasState.set_enforcement,
                options=QuotasState.enforcements,
                width="100%",
            ),
            rx.foreach(
                QuotasState.limits,
                lambda item: limit_input(
                    item,
                    QuotasState.set_limit,
                    ~QuotasState.can_govern,
                    rx.cond(QuotasState.error_field == item.name, QuotasState.error, ""),
                ),
            ),
            save_button(
                "Save quotas",
                busy=QuotasState.busy,
                allowed=QuotasState.can_govern,
                read_only="Read-only: changing quotas needs the govern permission.",
            ),
            spacing="3",
            align="stretch",
        ),
        on_submit=QuotasState.save,
        reset_on_submit=False,
        aria_label="Quota limits",
    )
