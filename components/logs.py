"""The sandbox's Logs tab: the last lines it wrote, or why there are none."""

from __future__ import annotations

import reflex as rx

from components.runtime import log_view
from components.tables import muted


def logs_layout(head: rx.Component, text: rx.Var[str], *, error: rx.Var[str]) -> rx.Component:
    return rx.box(
        head,
        rx.cond(error, muted(error), log_view(text, label="Sandbox log", empty="No output yet.")),
    )
