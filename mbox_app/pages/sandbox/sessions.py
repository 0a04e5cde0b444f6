"""The Sessions tab: who attached, with Attach and recordings
(state/sandbox_sessions.py, components/sessions.py)."""

from __future__ import annotations

import reflex as rx

from components import sessions
from state.sandbox import SandboxState
from state.sandbox_sessions import SessionItem, SessionsTab
from state.sandbox_terminal import TerminalTab

LABEL = "Sessions"


def tab() -> rx.Component:
    return sessions.sessions_layout(
        sessions.sessions_table(SessionsTab.sessions, session_row),
        has_sessions=SessionsTab.sessions.length() > 0,
        loaded=SessionsTab.loaded,
        error=SessionsTab.error,
        notice=SessionsTab.notice,
        grace=SessionsTab.grace,
        on_refresh=SandboxState.refresh_tab,
    )


def session_row(item: rx.Var[SessionItem]) -> rx.Component:
    return sessions.session_row(
        item,
        current=item.terminal_id == TerminalTab.terminal_id,
        on_attach=TerminalTab.attach_terminal(item.terminal_id),
        on_end=SessionsTab.end_runtime_session(item.id),
    )
