"""Form building blocks: every input gets a visible label bound to it."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.theme import MONO, SMALL_TEXT, TEXT_TERTIARY


def field_label(text: str, *, html_for: str) -> rx.Component:
    """A field's visible label, bound to its control by id."""
    return rx.el.label(text, html_for=html_for, font_size=SMALL_TEXT, font_weight="500")


def field(
    label: str, control: rx.Component, *below: rx.Component, html_for: str, **layout
) -> rx.Component:
    """A label above its control (whose id is `html_for`), then any hint lines; `layout`
    sizes the column (e.g. width="100%")."""
    return rx.vstack(field_label(label, html_for=html_for), control, *below, spacing="1", **layout)


def code_input(*, id: str, name: str, placeholder: str, **props) -> rx.Component:
    """An input for code or paths: monospaced, no autocomplete, no spellcheck."""
    return rx.input(
        id=id,
        name=name,
        placeholder=placeholder,
        font_family=MONO,
        autocomplete="off",
        spellcheck=False,
        width="100%",
        **props,
    )


def text_field(
    label: str,
    *,
    id: str,
    value: rx.Var[str],
    on_change: rx.EventHandler,
    placeholder: str = "",
    hint: str = "",
    required: bool = False,
    error: rx.Var[str] | None = None,
) -> rx.Component:
    """A labelled input; `error` (a Var: the words about this field, "" when none) shows
    under it and marks the input invalid for assistive technology."""
    control = rx.input(
        id=id,
        name=id,
        value=value,
        on_change=on_change,
        placeholder=placeholder,
        required=required,
        width="100%",
        **invalid_props(id, error),
    )
    below = [field_hint(hint)] if hint else []
    return field(label, control, *below, field_error(id, error), html_for=id, width="100%")


def invalid_props(id: str, error: rx.Var[str] | None) -> dict[str, Any]:
    """aria-invalid and aria-describedby (pointing at `field_error`) while `error` is set."""
    if error is None:
        return {}
    return {
        "aria_invalid": rx.cond(error, "true", "false"),
        "aria_describedby": rx.cond(error, f"{id}-error", ""),
    }


def field_error(id: str, error: rx.Var[str] | None) -> rx.Component:
    """The words about field `id` under it (the control points here with
    aria-describedby); nothing when `error` is None or empty."""
    if error is None:
        return rx.fragment()
    return rx.cond(
        error,
        rx.text(
            rx.icon("circle-alert", size=12, display="inline", margin_right="0.25rem"),
            error,
            id=f"{id}-error",
            role="alert",  # said as it appears, like the form's own alert
            size="1",
            color=rx.color("red", 11),
            overflow_wrap="anywhere",
        ),
    )


def error_at(error: rx.Var[str], error_field: rx.Var[str], key: str) -> rx.Var[str]:
    """The refusal `error` when it names the form field `key` (else "")."""
    return rx.cond(error_field == key, error, "")


def unplaced(error: rx.Var[str], error_field: rx.Var[str]) -> rx.Var[str]:
    """The refusal `error` when it names no form field (the form's callout shows it)."""
    return rx.cond(error_field == "", error, "")


def panel(*children: rx.Component, **props) -> rx.Component:
    """A bordered surface for a form or table."""
    return rx.box(
        *children,
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="0.75rem",
        background=rx.color("gray", 1),
        box_shadow="0 1px 2px rgba(16, 24, 40, 0.04)",
        **props,
    )


def hydrated_fieldset(*children: rx.Component) -> rx.Component:
    """Form controls, disabled until the page's state has loaded: input typed before then
    would be overwritten by the first state sync."""
    return rx.el.fieldset(
        rx.vstack(*children, spacing="4", align="stretch"),
        disabled=~rx.State.is_hydrated,
        border="0",
        margin="0",
        padding="0",
        min_width="0",
    )


def select_field(
    label: str,
    *,
    id: str,
    value: rx.Var[str],
    on_change: rx.EventHandler,
    groups: list[tuple[str, rx.Var[list]]],
    placeholder: str = "",
    hint: rx.Component | None = None,
) -> rx.Component:
    """A labelled select. Each group is (heading or "", items with `.value` and `.label`);
    an empty group is left out."""
    control = rx.select.root(
        rx.select.trigger(id=id, placeholder=placeholder, width="100%", max_width="100%"),
        rx.select.content(
            *(_select_group(title, items) for title, items in groups), max_width=MENU_WIDTH
        ),
        value=value,
        on_change=on_change,
        name=id,
    )
    return field(label, control, *([hint] if hint is not None else []), html_for=id, width="100%")


def choice_select(
    value: rx.Var[str],
    on_change: rx.EventHandler,
    options: list[tuple[str, str]] | rx.Var[list],
    *,
    id: str | None = None,
    **trigger: Any,
) -> rx.Component:
    """A select of fixed (value, words) pairs or of a Var of choices with `.value` and
    `.label`; `trigger` sizes or names the button (e.g. aria_label for a filter)."""
    if isinstance(options, rx.Var):
        items = rx.foreach(options, lambda c: option(c.label, c.value))
    else:
        items = rx.fragment(*(option(words, key) for key, words in options))
    return rx.select.root(
        rx.select.trigger(**({"id": id} if id else {}), **{"max_width": "100%", **trigger}),
        rx.select.content(items, max_width=MENU_WIDTH),
        value=value,
        on_change=on_change,
        **({"name": id} if id else {}),
    )


def choice_field(
    label: str,
    *,
    id: str,
    value: rx.Var[str],
    on_change: rx.EventHandler,
    options: list[tuple[str, str]] | rx.Var[list],
    **layout: Any,
) -> rx.Component:
    """A labelled `choice_select`."""
    control = choice_select(value, on_change, options, id=id, width="100%")
    return field(label, control, html_for=id, **layout)


def search_box(
    value: rx.Var[str], on_change: rx.EventHandler, *, label: str, placeholder: str, **layout: Any
) -> rx.Component:
    """A search input named `label` for assistive technology (its placeholder says what
    it searches)."""
    return rx.input(
        rx.input.slot(rx.icon("search", size=14)),
        value=value,
        on_change=on_change,
        placeholder=placeholder,
        aria_label=label,
        type="search",
        **layout,
    )


# A select's menu stays inside the window, however long its options' words.
MENU_WIDTH = "min(32rem, calc(100vw - 2rem))"


def option(words: rx.Var[str] | str, value: rx.Var[str] | str) -> rx.Component:
    """A select's option on one line, cut with an ellipsis (the whole of it on hover)."""
    return rx.select.item(
        words,
        value=value,
        title=words,
        overflow="hidden",
        text_overflow="ellipsis",
        white_space="nowrap",
    )


def _select_group(title: str, items: rx.Var[list]) -> rx.Component:
    options = rx.foreach(items, lambda item: option(item.label, item.value))
    if not title:
        return rx.select.group(options)
    return rx.cond(items.length() > 0, rx.select.group(rx.select.label(title), options))


def field_hint(text: rx.Var[str] | str) -> rx.Component:
    """The small grey line under a field."""
    return rx.text(text, size="1", color=TEXT_TERTIARY)
