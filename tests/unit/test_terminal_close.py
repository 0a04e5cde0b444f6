"""How the console reads a terminal socket's close: ended, refused, or worth a reconnect."""

from __future__ import annotations

from backend.sessions.terminals import TERMINAL_ENDED
from state.sandbox_terminal import close_outcome

SHELL_EXITED = ("ended", "The shell exited. Start a new terminal to go on.")


def test_an_exited_shell_ends_the_terminal_however_the_news_arrives():
    assert close_outcome(1000, "") == SHELL_EXITED
    # The close with 1000 was lost; the reconnect is refused because the shell ended.
    assert close_outcome(4409, TERMINAL_ENDED) == SHELL_EXITED


def test_refusals_say_why_and_do_not_reconnect():
    assert close_outcome(4409, "sandbox must be running before opening terminal") == (
        "ended",
        "The terminal is not available: sandbox must be running before opening terminal.",
    )
    assert close_outcome(4401, "") == (
        "disconnected",
        "The server refused the terminal: sign in again, then Connect.",
    )


def test_a_dropped_connection_may_reconnect():
    assert close_outcome(1006, "") is None
