"""Audit: who did what, when, and from where."""

from __future__ import annotations

import reflex as rx

from components.shell import shell

TITLE = "Audit"
DESCRIPTION = "Who did what, when, and from where."


def page() -> rx.Component:
    return shell(rx.text("Audit feed"), active="audit", title=TITLE, description=DESCRIPTION)
