"""Runtime: the adapter, the resources it manages for mbox, and orphans awaiting cleanup."""

from __future__ import annotations

import reflex as rx

from components.feedback import empty_state, error_callout, notice_callout
from components.forms import choice_field, field_hint, panel
from components.runtime_inventory import (
    IMAGE_HEADERS,
    ORPHAN_HEADERS,
    RESOURCE_HEADERS,
    cleanup_dialog,
    image_row,
    orphan_row,
    resource_row,
    summary_grid,
)
from components.tables import data_table
from components.theme import TEXT_SECONDARY
from mbox_app.pages.frame import console_page
from state.runtime import RuntimeState
from state.sign_in import SignInState

TITLE = "Runtime"
DESCRIPTION = "The runtime adapter and the resources it manages."


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            adapter_bar(),
            error_callout(RuntimeState.error),
            notice_callout(RuntimeState.notice),
            summary_grid(RuntimeState.cells),
            quantity_issues(),
            filter_bar(),
            section("Resources", resource_table()),
            section(
                "Orphans",
                rx.text(
                    "Resources the runtime holds for a sandbox or template that mbox no longer "
                    "has, or that records another resource. Cleanup deletes one only while the "
                    "audit, run again, still reports it for the same reason.",
                    size="2",
                    color=TEXT_SECONDARY,
                    margin_bottom="0.75rem",
                ),
                orphan_table(),
            ),
            section("Images", image_cache()),
            spacing="4",
            align="stretch",
        ),
        cleanup_dialog(
            RuntimeState.target,
            typed=RuntimeState.typed,
            on_type=RuntimeState.set_typed,
            confirmed=RuntimeState.confirmed,
            busy=RuntimeState.cleanup_busy,
            error=RuntimeState.cleanup_error,
            on_submit=RuntimeState.cleanup,
            is_open=RuntimeState.cleanup_open,
            on_open_change=RuntimeState.set_cleanup_open,
        ),
        active="runtime",
        title=TITLE,
        description=DESCRIPTION,
    )


def adapter_bar() -> rx.Component:
    return panel(
        rx.hstack(
            rx.icon("server", size=18, color=rx.color("accent", 11)),
            rx.vstack(
                rx.text(
                    rx.cond(
                        RuntimeState.adapter,
                        RuntimeState.adapter,
                        rx.cond(RuntimeState.error, "Runtime not read", "Reading the runtime…"),
                    ),
                    size="3",
                    weight="medium",
                ),
                rx.cond(
                    RuntimeState.checked,
                    rx.text(
                        "Checked at ",
                        RuntimeState.checked,
                        size="1",
                        color=TEXT_SECONDARY,
                        title=RuntimeState.checked_at,
                    ),
                ),
                spacing="0",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Refresh",
                variant="soft",
                loading=RuntimeState.busy,
                on_click=RuntimeState.refresh,
            ),
            align="center",
            width="100%",
        ),
        padding="0.75rem 1.25rem",
    )


def quantity_issues() -> rx.Component:
    """Quantities that were reported but not added up, each in words."""
    return rx.cond(
        RuntimeState.issues.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert", size=16)),
            rx.vstack(
                rx.callout.text("Some quantities could not be added up:", weight="medium"),
                rx.el.ul(rx.foreach(RuntimeState.issues, rx.el.li), margin="0"),
                spacing="1",
            ),
            color_scheme="amber",
            size="1",
        ),
    )


def filter_bar() -> rx.Component:
    return rx.el.section(
        rx.hstack(
            choice_field(
                "Namespace",
                id="runtime-namespace",
                value=RuntimeState.namespace,
                on_change=RuntimeState.set_namespace,
                options=RuntimeState.namespace_choices,
                min_width="12rem",
            ),
            choice_field(
                "Kind",
                id="runtime-kind",
                value=RuntimeState.kind,
                on_change=RuntimeState.set_kind,
                options=RuntimeState.kind_choices,
                min_width="12rem",
            ),
            rx.cond(
                RuntimeState.filtered,
                rx.button(
                    "Clear filters",
                    variant="soft",
                    color_scheme="gray",
                    on_click=RuntimeState.clear_filters,
                ),
            ),
            rx.spacer(),
            field_hint("The filters apply to the resources, the summary and the orphans."),
            align="end",
            spacing="3",
            width="100%",
            wrap="wrap",
        ),
        aria_label="Filter runtime resources",
    )


def section(title: str, *children: rx.Component) -> rx.Component:
    return rx.el.section(
        rx.heading(title, as_="h2", size="4", weight="medium", margin_bottom="0.6rem"),
        *children,
        aria_label=title,
        width="100%",
    )


def resource_table() -> rx.Component:
    return data_table(
        RESOURCE_HEADERS,
        RuntimeState.resources,
        resource_row,
        label="Runtime resources",
        empty=rx.cond(
            RuntimeState.loaded,
            rx.cond(
                RuntimeState.filtered,
                empty_state(
                    "search-x",
                    "No resources match these filters",
                    "Change or clear the filters to see the rest.",
                ),
                empty_state(
                    "server",
                    "No runtime resources",
                    "The runtime holds nothing for mbox: launch a sandbox and its resources "
                    "are listed here.",
                ),
            ),
            rx.fragment(),
        ),
    )


def orphan_table() -> rx.Component:
    return data_table(
        ORPHAN_HEADERS,
        RuntimeState.orphans,
        lambda orphan: orphan_row(
            orphan, on_clean_up=RuntimeState.ask_cleanup, can_clean_up=SignInState.can_cleanup
        ),
        label="Orphan runtime resources",
        empty=rx.cond(
            RuntimeState.loaded,
            empty_state(
                "circle-check",
                "No orphans",
                "No orphans: every runtime resource belongs to a sandbox or template mbox knows.",
            ),
            rx.fragment(),
        ),
    )


def image_cache() -> rx.Component:
    """The images the runtime keeps on its host; a cluster's nodes keep their own."""
    return rx.vstack(
        error_callout(RuntimeState.images_error),
        rx.cond(
            RuntimeState.images_kept,
            rx.fragment(
                rx.cond(
                    RuntimeState.images_total,
                    rx.text(RuntimeState.images_total, size="2", color=TEXT_SECONDARY),
                ),
                data_table(
                    IMAGE_HEADERS,
                    RuntimeState.images,
                    image_row,
                    label="Cached images",
                    empty=rx.cond(
                        RuntimeState.images_loaded,
                        empty_state(
                            "container",
                            "No cached images",
                            "No images are cached: a sandbox whose template names an image "
                            "pulls it here on its first launch.",
                        ),
                        rx.fragment(),
                    ),
                ),
            ),
            rx.cond(
                RuntimeState.images_loaded,
                rx.text(
                    "This runtime keeps no image cache of its own: the cluster's nodes pull "
                    "and keep the images.",
                    size="2",
                    color=TEXT_SECONDARY,
                ),
            ),
        ),
        spacing="3",
        align="stretch",
        width="100%",
    )
