"""The Events tab (state/sandbox_events.py, components/events.py)."""

from __future__ import annotations

import reflex as rx

from components import events
from mbox_app.pages.sandbox.tab import tab_head
from state.sandbox_events import EventsTab

LABEL = "Events"


def tab() -> rx.Component:
    return events.events_layout(
        tab_head("What the runtime did with this sandbox, newest first."),
        EventsTab.events,
        error=EventsTab.error,
    )
