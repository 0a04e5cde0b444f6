"""The top of the sandbox page (state/sandbox.py): status and actions, a validation run's
verdict, and the Start-up, Lifetime and Runtime cards."""

from __future__ import annotations

import reflex as rx

from components.badges import status_badge
from components.charts import sparkline
from components.dialogs import confirm_delete, confirm_dialog
from components.forms import panel
from components.tables import mono, muted
from components.theme import TEXT_SECONDARY, TEXT_TERTIARY
from state.sandbox import Phase, PortItem, SandboxState


def validation_run() -> rx.Component:
    """A template's validation run: try the sandbox, then record the verdict here (the
    template's card shows it too)."""
    view = SandboxState.view
    return rx.callout.root(
        rx.callout.icon(rx.icon("flask-conical", size=16)),
        rx.flex(
            rx.callout.text(
                rx.cond(
                    view.verdict == "testing",
                    rx.fragment(
                        "Validation run of the ",
                        rx.text.strong(view.template_name),
                        " template: try it, then record whether it works.",
                    ),
                    rx.fragment(
                        "Validation run of the ",
                        rx.text.strong(view.template_name),
                        " template: marked ",
                        rx.text.strong(view.verdict),
                        ".",
                    ),
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("check", size=14),
                    "Mark passed",
                    display=rx.cond(SandboxState.can_operate, "inline-flex", "none"),
                    on_click=SandboxState.decide("passed"),
                    color_scheme="green",
                    variant=rx.cond(view.verdict == "passed", "solid", "soft"),
                    size="1",
                ),
                rx.button(
                    rx.icon("x", size=14),
                    "Mark failed",
                    display=rx.cond(SandboxState.can_operate, "inline-flex", "none"),
                    on_click=SandboxState.decide("failed"),
                    color_scheme="red",
                    variant=rx.cond(view.verdict == "failed", "solid", "soft"),
                    size="1",
                ),
                rx.cond(
                    (view.verdict != "testing") & view.can_stop & SandboxState.can_operate,
                    rx.hstack(
                        stop_button("Stop sandbox", size="1"),
                        delete_button("Delete sandbox", size="1"),
                        spacing="2",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            gap="1rem",
            wrap="wrap",
            width="100%",
        ),
        color_scheme="blue",
        role="region",
        aria_label="Validation run",
        size="1",
    )


# -- status and actions ---------------------------------------------------------------


def status_bar() -> rx.Component:
    view = SandboxState.view
    return panel(
        rx.flex(
            rx.flex(
                status_badge(view.status, size="3"),
                rx.text(view.headline, size="3", weight="medium", min_width="0"),
                role="group",
                aria_label="Sandbox status",
                align="center",
                gap="0.75rem",
                flex="1",
                min_width="0",
            ),
            rx.cond(SandboxState.can_operate, actions(), read_only_badge()),
            align="center",
            gap="1rem",
            width="100%",
        ),
        padding="1rem 1.25rem",
    )


def read_only_badge() -> rx.Component:
    return rx.badge(
        rx.icon("eye", size=12),
        "Read-only: your role cannot change this sandbox",
        color_scheme="gray",
        id="read-only",
    )


def actions() -> rx.Component:
    view = SandboxState.view
    disabled = ~rx.State.is_hydrated | SandboxState.busy
    return rx.hstack(
        rx.cond(view.can_stop, stop_button("Stop", disabled=disabled)),
        rx.cond(
            view.can_start,
            rx.button(
                rx.icon("play", size=14), "Start", on_click=SandboxState.start, disabled=disabled
            ),
        ),
        rx.cond(
            view.can_renew,
            rx.button(
                rx.icon("timer-reset", size=14),
                "Renew lease",
                on_click=SandboxState.renew,
                disabled=disabled,
                variant="soft",
                color_scheme="gray",
            ),
        ),
        delete_button("Delete", disabled=disabled),
        spacing="2",
        align="center",
        flex_shrink="0",
    )


def stop_button(label: str, **button) -> rx.Component:
    """Stop, after a confirmation that says how many running tasks it kills (counted as
    the dialog opens)."""
    return confirm_dialog(
        rx.button(
            rx.icon("square", size=14),
            label,
            on_click=SandboxState.ask_stop,
            variant="soft",
            color_scheme="gray",
            **button,
        ),
        title="Stop this sandbox?",
        description=SandboxState.stop_words,
        confirm="Stop sandbox",
        on_confirm=SandboxState.stop,
    )


def delete_button(label: str, **button) -> rx.Component:
    return confirm_delete(
        label,
        variant="soft",
        title="Delete this sandbox?",
        description=rx.text(
            "Every process stops and the workspace is removed. The record stays in the "
            "audit trail. This cannot be undone."
        ),
        details=delete_details(),
        confirm="Delete sandbox",
        on_confirm=SandboxState.delete,
        **button,
    )


def delete_details() -> rx.Component:
    view = SandboxState.view
    return rx.data_list.root(
        rx.data_list.item(rx.data_list.label("Sandbox"), rx.data_list.value(view.name)),
        rx.data_list.item(rx.data_list.label("Project"), rx.data_list.value(view.project_name)),
        rx.data_list.item(
            rx.data_list.label("Runtime"),
            rx.data_list.value(rx.cond(view.runtime_ref, view.runtime_ref, "None yet")),
        ),
        size="2",
        margin_top="1rem",
    )


# -- overview -------------------------------------------------------------------------


def cards() -> rx.Component:
    """One line of facts with a Details toggle; the three cards only when opened, so the
    terminal below is in view at once."""
    return rx.vstack(
        summary_line(),
        rx.cond(
            SandboxState.details_open,
            rx.grid(
                startup_card(),
                lifetime_card(),
                runtime_card(),
                resources_card(),
                columns=rx.breakpoints(initial="1", md="3"),
                gap="1rem",
                id="sandbox-details",
                width="100%",
            ),
        ),
        spacing="3",
        align="stretch",
    )


def summary_line() -> rx.Component:
    view = SandboxState.view
    open_ = SandboxState.details_open
    return rx.flex(
        fact("timer", rx.cond(view.startup, view.startup, "Not started")),
        fact("hourglass", view.lease),
        fact("server", rx.cond(view.runtime_ref, view.runtime_ref, "No runtime yet")),
        rx.spacer(),
        rx.button(
            rx.cond(open_, rx.icon("chevron-up", size=14), rx.icon("chevron-down", size=14)),
            rx.cond(open_, "Hide details", "Show details"),
            on_click=SandboxState.toggle_details,
            aria_expanded=rx.cond(open_, "true", "false"),
            aria_controls="sandbox-details",
            variant="ghost",
            color_scheme="gray",
            size="1",
        ),
        role="group",
        aria_label="Sandbox summary",
        align="center",
        gap="0.5rem 1.25rem",
        wrap="wrap",
        padding_x="0.25rem",
    )


def fact(icon: str, text: rx.Var[str]) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=13, color=TEXT_TERTIARY),
        rx.text(text, size="1", color=TEXT_SECONDARY),
        spacing="1",
        align="center",
        min_width="0",
    )


def card(title: str, icon: str, *children: rx.Component) -> rx.Component:
    return panel(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=15, color=TEXT_TERTIARY),
                rx.heading(title, as_="h2", size="2", weight="medium", color=TEXT_SECONDARY),
                spacing="2",
                align="center",
            ),
            *children,
            spacing="3",
            align="stretch",
        ),
        padding="1rem 1.25rem",
        height="100%",
        role="region",
        aria_label=title,
    )


def startup_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Start-up",
        "timer",
        rx.text(
            rx.cond(view.startup, view.startup, "Not started"),
            size="5",
            weight="bold",
        ),
        rx.cond(
            SandboxState.phases.length() > 0,
            rx.vstack(rx.foreach(SandboxState.phases, phase_row), spacing="1", align="stretch"),
        ),
    )


def phase_row(phase: rx.Var[Phase]) -> rx.Component:
    return rx.hstack(
        rx.text(phase.label, size="1", color=TEXT_SECONDARY),
        rx.spacer(),
        rx.text(phase.delta, size="1", weight="medium", font_variant_numeric="tabular-nums"),
        rx.text(
            phase.at,
            size="1",
            color=TEXT_TERTIARY,
            title=phase.at_full,
            font_variant_numeric="tabular-nums",
            min_width="3.75rem",
            text_align="right",
        ),
        spacing="2",
        align="center",
        border_top=f"1px solid {rx.color('gray', 4)}",
        padding_top="0.25rem",
    )


def lifetime_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Lifetime",
        "hourglass",
        rx.vstack(
            rx.text(view.lease, size="5", weight="bold"),
            rx.text(view.lease_detail, size="1", color=TEXT_TERTIARY),
            spacing="1",
        ),
        rx.text(view.idle, size="2", color=TEXT_SECONDARY),
        rx.text("Created ", view.created_at, size="1", color=TEXT_TERTIARY),
    )


def runtime_card() -> rx.Component:
    view = SandboxState.view
    return card(
        "Runtime",
        "server",
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Reference"),
                rx.data_list.value(
                    rx.cond(view.runtime_ref, mono(view.runtime_ref), muted("None yet"))
                ),
            ),
            rx.data_list.item(
                rx.data_list.label("Placement"),
                rx.data_list.value(mono(view.namespace + " · " + view.service_account)),
            ),
            rx.data_list.item(
                rx.data_list.label("Ports"),
                rx.data_list.value(
                    rx.cond(
                        SandboxState.ports.length() > 0,
                        rx.hstack(rx.foreach(SandboxState.ports, port_badge), wrap="wrap"),
                        muted("None declared"),
                    )
                ),
            ),
            size="1",
            orientation="vertical",
            gap="0.6rem",
        ),
    )


def resources_card() -> rx.Component:
    """Live resource use over the last minutes, across the grid's width."""
    return rx.box(
        card(
            "Resources",
            "activity",
            rx.cond(
                SandboxState.resources.length() > 0,
                rx.grid(
                    rx.foreach(SandboxState.resources, lambda chart: sparkline(chart.title, chart)),
                    columns=rx.breakpoints(initial="2", md="5"),
                    gap="1.25rem",
                ),
            ),
            rx.text(SandboxState.resources_note, size="1", color=TEXT_TERTIARY),
        ),
        grid_column="1 / -1",
    )


def port_badge(port: rx.Var[PortItem]) -> rx.Component:
    return rx.badge(port.name, " :", port.port, " ", port.protocol, variant="surface", size="1")
