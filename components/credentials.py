"""Credential references: a table row (no value: there is none) and the create form's
fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from components.dialogs import confirm_delete
from components.forms import code_input, field, field_error, field_hint, invalid_props
from components.tables import NAME_WIDTH, clipped, mono, muted
from components.theme import TEXT_SECONDARY


def credential_row(
    item: rx.Var, *, on_delete: Callable[[rx.Var], rx.EventSpec], can_delete: rx.Var[bool]
) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                clipped(item.name, width=NAME_WIDTH, weight="medium", size="2"),
                mono(item.slug),
                spacing="0",
            )
        ),
        rx.table.cell(rx.badge(item.type, variant="soft", color_scheme="indigo")),
        rx.table.cell(clipped(item.target, width=NAME_WIDTH, size="2", color=TEXT_SECONDARY)),
        rx.table.cell(mono(item.secret)),
        rx.table.cell(muted(item.usage)),
        rx.table.cell(muted(item.used_by), max_width="16rem"),
        rx.table.cell(
            rx.cond(
                can_delete,
                confirm_delete(
                    size="1",
                    variant="ghost",
                    aria_label="Delete " + item.name,
                    title="Delete this credential?",
                    description="Sandboxes stop getting "
                    + item.name
                    + " at their next start. The secret itself is not touched.",
                    confirm="Delete credential",
                    on_confirm=on_delete(item.id),
                ),
            )
        ),
        align="center",
    )


def credential_fields(
    types: rx.Var[list], error_of: Callable[[str], rx.Var[str]]
) -> list[rx.Component]:
    """The create form: names only (a reference to a secret, never its value).
    `error_of(name)`: the words about the field named `name`, shown under it."""

    def checked(id: str, name: str) -> dict[str, Any]:
        return invalid_props(id, error_of(name))

    def words(id: str, name: str) -> rx.Component:
        return field_error(id, error_of(name))

    return [
        field(
            "Name",
            rx.input(
                id="credential-name",
                name="name",
                placeholder="Registry pull",
                width="100%",
                **checked("credential-name", "name"),
            ),
            words("credential-name", "name"),
            html_for="credential-name",
            width="100%",
        ),
        field(
            "Type",
            rx.select.root(
                rx.select.trigger(id="credential-type", width="100%"),
                rx.select.content(
                    rx.foreach(types, lambda c: rx.select.item(c.label, value=c.value))
                ),
                default_value="generic",
                name="type",
            ),
            html_for="credential-type",
            width="100%",
        ),
        field(
            "Target",
            rx.input(
                id="credential-target",
                name="target",
                placeholder="ghcr.io/acme",
                width="100%",
                **checked("credential-target", "target"),
            ),
            field_hint("What it is for: a registry, a repository, a cluster (optional)."),
            words("credential-target", "target"),
            html_for="credential-target",
            width="100%",
        ),
        rx.hstack(
            field(
                "Secret name",
                code_input(
                    id="credential-secret",
                    name="secret_name",
                    placeholder="registry-pull",
                    **checked("credential-secret", "secret_name"),
                ),
                words("credential-secret", "secret_name"),
                html_for="credential-secret",
                flex="1",
            ),
            field(
                "Key",
                code_input(
                    id="credential-key",
                    name="secret_key",
                    placeholder="(whole secret)",
                    **checked("credential-key", "secret_key"),
                ),
                words("credential-key", "secret_key"),
                html_for="credential-key",
                flex="1",
            ),
            width="100%",
        ),
        field(
            "Usage",
            code_input(
                id="credential-usage",
                name="usage",
                placeholder="sandbox",
                **checked("credential-usage", "usage"),
            ),
            field_hint("Comma-separated; sandbox mounts it into the project's sandboxes."),
            words("credential-usage", "usage"),
            html_for="credential-usage",
            width="100%",
        ),
    ]
