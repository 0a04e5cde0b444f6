"""The runtime inventory's pieces: summary cells, a resource row, an orphan row and the
cleanup confirmation.

Resources are the state's formatted items (`kind`, `name`, `namespace`, `owner`,
`owner_id`, `owner_href`, `phase`, `pod`, `ready`, `restarts`, `message`, `requests`,
`created`, `created_at`); orphans add `reason`, `reason_label`, `message` and `evidence`.
"""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.dialogs import modal_form
from components.forms import code_input, field, field_hint
from components.tables import mono, muted
from components.theme import MONO, SMALL_TEXT, TEXT_SECONDARY, TEXT_TERTIARY

RESOURCE_HEADERS = ["Resource", "Namespace", "Owner", "Observed", "Requests", "Created"]
ORPHAN_HEADERS = ["Resource", "Why it is an orphan", "Evidence", "Created", ""]
IMAGE_HEADERS = ["Image", "References", "Size", "Last used", ""]


def clipped(text: rx.Var[str], *, max_width: str, **props) -> rx.Component:
    """One line of text cut with an ellipsis; the whole of it in the title."""
    return rx.text(
        text,
        title=text,
        max_width=max_width,
        overflow="hidden",
        text_overflow="ellipsis",
        white_space="nowrap",
        **props,
    )


def summary_grid(cells: rx.Var[list]) -> rx.Component:
    """The summary's figures as a description list, one cell each."""
    return rx.el.dl(
        rx.foreach(cells, _cell),
        display="grid",
        grid_template_columns="repeat(auto-fill, minmax(11rem, 1fr))",
        gap="0.75rem",
        margin="0",
        width="100%",
    )


def _cell(cell: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.dt(cell.label, color=TEXT_SECONDARY, font_size=SMALL_TEXT),
        rx.el.dd(
            rx.text(cell.value, size="5", weight="bold", title=cell.value, truncate=True),
            rx.text(cell.detail, size="1", color=TEXT_TERTIARY, title=cell.detail, truncate=True),
            margin="0",
            min_width="0",
        ),
        padding="0.75rem 1rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="0.75rem",
        background=rx.color("gray", 1),
        min_width="0",
    )


def resource_row(item: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(item.kind, size="1", color=TEXT_TERTIARY),
                clipped(item.name, max_width="16rem", size="2", weight="medium", font_family=MONO),
                spacing="0",
            ),
        ),
        rx.table.cell(mono(item.namespace)),
        rx.table.cell(owner_link(item)),
        rx.table.cell(observation(item)),
        rx.table.cell(
            rx.cond(item.requests, clipped(item.requests, max_width="12rem", size="2"), muted("—"))
        ),
        rx.table.cell(muted(item.created), title=item.created_at, white_space="nowrap"),
        align="center",
    )


def owner_link(item: rx.Var) -> rx.Component:
    """The sandbox or template the resource was made for, linked; "None" when unlabelled."""
    return rx.cond(
        item.owner,
        rx.link(item.owner, href=item.owner_href, title=item.owner_id, size="2"),
        muted("None"),
    )


def observation(item: rx.Var) -> rx.Component:
    """Phase and pod, ready containers and restarts, the runtime's message."""
    return rx.vstack(
        rx.hstack(
            rx.cond(
                item.phase,
                rx.badge(
                    item.phase, variant="soft", color_scheme=_phase_color(item.phase), size="1"
                ),
            ),
            rx.cond(item.pod, clipped(item.pod, max_width="10rem", size="1", color=TEXT_SECONDARY)),
            spacing="2",
            align="center",
        ),
        rx.cond(
            item.ready,
            rx.text(
                "ready ", item.ready, " · restarts ", item.restarts, size="1", color=TEXT_TERTIARY
            ),
        ),
        rx.cond(
            item.message, clipped(item.message, max_width="14rem", size="1", color=TEXT_TERTIARY)
        ),
        spacing="1",
    )


def _phase_color(phase: rx.Var[str]) -> rx.Var:
    return rx.match(phase, ("Running", "green"), ("Pending", "amber"), ("Failed", "red"), "gray")


def image_row(image: rx.Var) -> rx.Component:
    """One cached image: its digest (shortened; the whole in the title), the references
    that name it, its size, when a sandbox last used it, and whether one runs on it."""
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(
                image.short_digest,
                "…",
                title=image.digest,
                size="2",
                font_family=MONO,
                white_space="nowrap",
            ),
        ),
        rx.table.cell(
            lines_or_dash(image.references, max_width="22rem", size="2"),
        ),
        rx.table.cell(muted(image.size), white_space="nowrap"),
        rx.table.cell(
            muted(image.last_used),
            title=rx.Var.create("last used ") + image.last_used_at + ", pulled " + image.pulled_at,
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.cond(
                image.in_use,
                rx.badge(
                    "in use",
                    color_scheme="green",
                    variant="soft",
                    size="1",
                    title="A running sandbox's root: never removed while it runs",
                ),
            ),
        ),
        align="center",
    )


def orphan_row(
    orphan: rx.Var,
    *,
    on_clean_up: Callable[[rx.Var], rx.EventSpec],
    can_clean_up: rx.Var[bool] | bool = True,
) -> rx.Component:
    """One orphan; its Clean up button only for a role that may delete runtime resources."""
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(orphan.kind, " in ", orphan.namespace, size="1", color=TEXT_TERTIARY),
                clipped(
                    orphan.name, max_width="16rem", size="2", weight="medium", font_family=MONO
                ),
                spacing="0",
            ),
        ),
        rx.table.cell(
            rx.vstack(
                rx.badge(
                    orphan.reason_label,
                    color_scheme="amber",
                    variant="soft",
                    size="1",
                    title=orphan.reason,
                ),
                rx.text(orphan.message, size="2", max_width="26rem"),
                spacing="1",
            ),
        ),
        rx.table.cell(
            lines_or_dash(orphan.evidence, max_width="16rem", size="1"),
        ),
        rx.table.cell(muted(orphan.created), title=orphan.created_at, white_space="nowrap"),
        rx.table.cell(
            rx.button(
                rx.icon("trash-2", size=14),
                "Clean up",
                display=rx.cond(can_clean_up, "inline-flex", "none"),
                color_scheme="red",
                variant="soft",
                size="1",
                aria_label=f"Clean up {orphan.kind} {orphan.name}",
                aria_haspopup="dialog",
                on_click=on_clean_up(orphan.key),
            ),
        ),
        align="center",
    )


def cleanup_dialog(
    target: rx.Var,
    *,
    typed: rx.Var[str],
    on_type: rx.EventHandler,
    confirmed: rx.Var[bool],
    busy: rx.Var[bool],
    error: rx.Var[str],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """Names the resource and why it is an orphan; deletes it only once its name is typed."""
    return modal_form(
        rx.el.dl(
            rx.el.dt("Resource", color=TEXT_SECONDARY),
            rx.el.dd(
                target.kind,
                " ",
                target.namespace,
                "/",
                target.name,
                margin="0",
                font_family=MONO,
                word_break="break-all",
            ),
            rx.el.dt("Reason", color=TEXT_SECONDARY),
            rx.el.dd(
                rx.text(target.reason_label, " (", target.reason, ")", weight="medium"),
                rx.text(target.message),
                margin="0",
            ),
            display="grid",
            grid_template_columns="5.5rem minmax(0, 1fr)",
            gap="0.35rem 0.75rem",
            font_size=SMALL_TEXT,
            margin="0",
            width="100%",
        ),
        field(
            "Type the resource's name to confirm",
            code_input(
                id="cleanup-confirm-name",
                name="name",
                placeholder=target.name,
                value=typed,
                on_change=on_type,
            ),
            field_hint("The runtime deletes it for good; mbox records the deletion in audit."),
            html_for="cleanup-confirm-name",
            width="100%",
        ),
        title=f"Clean up {target.kind}",
        description="Delete this orphan runtime resource. This cannot be undone.",
        submit=rx.button(
            rx.icon("trash-2", size=14),
            "Delete resource",
            type="submit",
            color_scheme="red",
            disabled=~confirmed,
            loading=busy,
        ),
        error=error,
        on_submit=on_submit,
        is_open=is_open,
        on_open_change=on_open_change,
        max_width="34rem",
    )


def lines_or_dash(lines: rx.Var, *, max_width: str, size: str) -> rx.Component:
    """One clipped monospace line per item (the full text on hover), or a dash for none."""
    return rx.cond(
        lines.length() > 0,
        rx.vstack(
            rx.foreach(
                lines,
                lambda line: clipped(line, max_width=max_width, size=size, font_family=MONO),
            ),
            spacing="0",
        ),
        muted("—"),
    )
