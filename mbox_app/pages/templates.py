"""Templates: the environment template library."""

from __future__ import annotations

import reflex as rx

from components.shell import shell

TITLE = "Templates"
DESCRIPTION = "Environment templates sandboxes are launched from."


def page() -> rx.Component:
    return shell(
        rx.text("Template library"), active="templates", title=TITLE, description=DESCRIPTION
    )
