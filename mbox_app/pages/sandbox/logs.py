"""The Logs tab (state/sandbox_logs.py, components/logs.py)."""

from __future__ import annotations

import reflex as rx

from components import logs
from mbox_app.pages.sandbox.tab import tab_head
from state.sandbox_logs import LogsTab

LABEL = "Logs"


def tab() -> rx.Component:
    return logs.logs_layout(
        tab_head("The last 200 lines the sandbox wrote, refreshed every few seconds."),
        LogsTab.logs,
        error=LogsTab.error,
    )
