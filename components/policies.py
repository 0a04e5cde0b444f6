"""Governance building blocks: a project picker, a list field (one entry a line), and the
launch policy preview's denied templates and sandboxes."""

from __future__ import annotations

import reflex as rx

from components.forms import choice_field, field, field_error, field_hint, invalid_props
from components.theme import MONO, TEXT_SECONDARY, TEXT_TERTIARY


def project_picker(
    value: rx.Var[str], on_change: rx.EventHandler, choices: rx.Var[list]
) -> rx.Component:
    return choice_field(
        "Project",
        id="governed-project",
        value=value,
        on_change=on_change,
        options=choices,
        width="18rem",
        max_width="100%",
    )


def list_field(
    label: str,
    *,
    id: str,
    value: rx.Var[str],
    on_change: rx.EventHandler,
    placeholder: str,
    hint: str,
    read_only: rx.Var[bool],
    error: rx.Var[str] | None = None,
) -> rx.Component:
    """A text area of entries, one a line (read only without the permission to change);
    `error`: the words about it, under it."""
    control = rx.text_area(
        **invalid_props(id, error),
        id=id,
        name=id,
        value=value,
        on_change=on_change,
        placeholder=placeholder,
        read_only=read_only,
        font_family=MONO,
        rows="4",
        width="100%",
        spellcheck=False,
    )
    return field(
        label, control, field_hint(hint), field_error(id, error), html_for=id, width="100%"
    )


def denied_item(item: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge(item.kind, color_scheme="red", variant="soft", size="1"),
            rx.link(item.name, href=item.href, size="2", weight="medium"),
            spacing="2",
            align="center",
        ),
        rx.el.ul(
            rx.foreach(item.rules, lambda rule: rx.el.li(rule, font_size="0.8rem")),
            color=TEXT_SECONDARY,
            margin="0.25rem 0 0 1.25rem",
        ),
        role="listitem",
        padding="0.5rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def policy_preview(
    *, summary: rx.Var[str], templates: rx.Var[list], sandboxes: rx.Var[list], error: rx.Var[str]
) -> rx.Component:
    """Which of the project's templates and live sandboxes the edited policy would deny."""
    return rx.vstack(
        rx.heading("Preview", as_="h2", size="3", weight="medium"),
        rx.cond(
            error,
            rx.text(error, size="2", color=rx.color("red", 11), role="alert"),
            rx.text(summary, size="2", color=TEXT_SECONDARY, id="policy-preview-summary"),
        ),
        rx.cond(
            templates.length() + sandboxes.length() > 0,
            rx.box(
                rx.foreach(templates, denied_item),
                rx.foreach(sandboxes, denied_item),
                role="list",
                aria_label="Would be denied",
                width="100%",
            ),
            rx.text("Nothing would be denied.", size="1", color=TEXT_TERTIARY),
        ),
        spacing="2",
        align="stretch",
        role="region",
        aria_label="Policy preview",
        aria_live="polite",
    )


def usage_bar(bar: rx.Var) -> rx.Component:
    """One quota: its name, current of limit, and a filled track when there is a limit
    (red once at or over it)."""
    return rx.box(
        rx.hstack(
            rx.text(bar.label, size="2", weight="medium"),
            rx.spacer(),
            rx.text(
                bar.current,
                rx.cond(bar.width != "", " of " + bar.limit, " · no limit"),
                size="2",
                color=TEXT_SECONDARY,
            ),
            width="100%",
        ),
        rx.cond(
            bar.width != "",
            rx.box(
                rx.box(
                    width=bar.width,
                    height="100%",
                    background=rx.cond(bar.full, rx.color("red", 9), rx.color("accent", 9)),
                    border_radius="0.25rem",
                ),
                height="0.6rem",
                margin_top="0.35rem",
                background=rx.color("gray", 3),
                border_radius="0.25rem",
            ),
        ),
        role="img",
        aria_label=bar.summary,
        padding="0.6rem 0",
    )


def limit_input(
    field_item: rx.Var, on_change, read_only: rx.Var[bool], error: rx.Var[str]
) -> rx.Component:
    """A limit as typed (blank: no limit), with what it takes; `error`: the words about it."""
    control_id = "quota-" + field_item.name
    error_id = control_id + "-error"
    return rx.vstack(
        rx.el.label(field_item.label, html_for=control_id, font_size="0.875rem", font_weight="500"),
        rx.input(
            id=control_id,
            name=control_id,
            value=field_item.value,
            on_change=lambda value: on_change(field_item.name, value),
            placeholder="No limit",
            read_only=read_only,
            width="100%",
            aria_invalid=rx.cond(error, "true", "false"),
            aria_describedby=rx.cond(error, error_id, ""),
        ),
        field_hint(field_item.hint),
        rx.cond(
            error,
            rx.text(
                error,
                id=error_id,
                role="alert",
                size="1",
                color=rx.color("red", 11),
                overflow_wrap="anywhere",
            ),
        ),
        spacing="1",
        width="100%",
    )


def save_button(
    label: str, *, busy: rx.Var[bool], allowed: rx.Var[bool], read_only: str
) -> rx.Component:
    """The form's submit for a role that may change it; else why the form is read-only."""
    return rx.cond(
        allowed,
        rx.button(
            rx.icon("save", size=16),
            label,
            type="submit",
            loading=busy,
            disabled=~rx.State.is_hydrated,
        ),
        field_hint(read_only),
    )
