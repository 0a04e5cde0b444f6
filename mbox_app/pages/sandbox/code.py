"""The Use from code tab: this sandbox from curl, the CLI and the Python SDK
(state/sandbox_code.py, components/snippets.py)."""

from __future__ import annotations

import reflex as rx

from components import snippets
from mbox_app.pages.sandbox.tab import tab_head
from state.sandbox_code import CodeTab

LABEL = "Use from code"
CHOICES = [("cli", "CLI"), ("python", "Python SDK"), ("curl", "curl")]


def tab() -> rx.Component:
    return snippets.snippet_panel(
        tab_head(
            "Run a task, read a file and open a terminal in this sandbox from a program: "
            "copy a snippet, it names this sandbox and this server."
        ),
        CHOICES,
        shown=CodeTab.shown,
        text=CodeTab.snippet,
        on_show=CodeTab.show_snippet,
        on_copy=CodeTab.copy_snippet,
        error=CodeTab.error,
        notice=CodeTab.notice,
    )
