"""The Terminal tab: a shell in the sandbox (state/sandbox_terminal.py, components/terminal.py)."""

from __future__ import annotations

import reflex as rx

from components import terminal
from state.sandbox import SandboxState
from state.sandbox_terminal import TerminalTab

LABEL = "Terminal"
# Kept mounted while another tab shows, so the terminal stays connected.
KEEP_MOUNTED = True


def tab() -> rx.Component:
    running = SandboxState.view.status == "running"
    return rx.cond(
        running & (TerminalTab.terminal_id != "") & rx.State.is_hydrated,
        terminal.terminal_layout(
            terminal_toolbar(),
            terminal.terminal_screen(
                TerminalTab.terminal_id,
                retry_ms=TerminalTab.retry_ms,
                on_ready=TerminalTab.terminal_ready,
                on_open=TerminalTab.terminal_opened,
                on_close=TerminalTab.terminal_closed,
                on_error=TerminalTab.terminal_failed,
                focus_mode=TerminalTab.focus_mode,
            ),
            rx.cond(
                SandboxState.can_operate,
                terminal.paste_form(
                    on_submit=TerminalTab.paste_text,
                    on_clipboard=TerminalTab.paste_clipboard,
                    connected=TerminalTab.status == "connected",
                ),
            ),
            detail=TerminalTab.detail,
            error=TerminalTab.error,
            notice=TerminalTab.notice,
            focus_mode=TerminalTab.focus_mode,
        ),
        terminal.terminal_unavailable(rx.cond(running, opening(), terminal_blocked())),
    )


def terminal_toolbar() -> rx.Component:
    return terminal.terminal_toolbar(
        TerminalTab.status,
        TerminalTab.short,
        live=TerminalTab.live,
        on_connect=TerminalTab.connect_terminal,
        on_disconnect=TerminalTab.disconnect_terminal,
        on_new=TerminalTab.new_terminal,
        on_copy=TerminalTab.copy_selection,
        on_take_control=TerminalTab.take_control,
        focus_mode=TerminalTab.focus_mode,
        on_focus_mode=TerminalTab.toggle_focus_mode,
        can_type=SandboxState.can_operate,
    )


def opening() -> rx.Var[str]:
    """A running sandbox without a terminal shown yet: one opens, or (a role that may only
    watch) the way to watch one."""
    return rx.cond(
        SandboxState.can_operate,
        "Opening a terminal…",
        rx.cond(
            SandboxState.can_read_content,
            "Your role may watch terminals but not start one: attach to a running terminal "
            "from the Sessions tab.",
            "Your role cannot see terminals (that needs the read-content permission).",
        ),
    )


def terminal_blocked() -> rx.Var[str]:
    """Why there is no terminal, in words."""
    return rx.match(
        SandboxState.view.status,
        ("pending", "The sandbox is starting: its terminal opens once it is running."),
        ("stopped", "The sandbox is stopped: start it to open a terminal."),
        ("failed", "The sandbox failed: start it again to open a terminal."),
        "A terminal opens only while the sandbox is running.",
    )
