"""Sandbox page, Terminal tab: a shell in the sandbox, in the browser, that survives its
connection.

The browser talks to the terminal WebSocket itself (backend/api/terminal.py: keystrokes
and output as frames, resize as JSON text frames); this state only decides which terminal
the page shows and follows the connection through the component's events. A terminal id
is made when the tab is first shown for a running sandbox and kept for the page's life, so
every reconnect (the component retries on its own; a reattaching client gets the whole
scrollback after a terminal reset) comes back to the same shell. "New terminal" makes a
fresh id; the Sessions tab can attach to another terminal of the sandbox.

The socket is opened by `terminal_ready` (the component's `on_ready`), exactly once per
mounted terminal, rather than through the component's `websocket_url` prop: with the prop
the component opens a socket from its mount effect and at once another from its URL effect,
closing the first while it connects. Chromium drops such a socket before its handshake, but
nothing promises that of every browser, and one that reached the server would be a session
of its own and could take the terminal's driver role from the socket that stays.

A terminal whose shell ended is never reconnected under its id (the server would start a
new shell under it): the close code 1000 means the shell exited, and when the sandbox stops
every process ends with it, so the page forgets the id and makes a new one when it runs.

`TerminalTab` is a tab of the sandbox page (state/sandbox.py): it reads the page's `view`
and sets its `tab` (Attach, from the Sessions tab).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

import reflex as rx
from reflex_xtermjs import XTermAPI

from backend.sessions.terminals import TERMINAL_ENDED
from state.base import services
from state.format import duration, short_id
from state.sandbox import SandboxState, SandboxTab

RECONNECT_MS = 1000  # first retry after a lost connection; doubles per failure
MAX_RECONNECT_MS = 15_000
SHELL_EXITED = 1000  # the server closes with 1000 only once the terminal has ended
REFUSED = 4000  # 4000 + HTTP status: the server refused the socket
TAKE_CONTROL = '{"type":"take-control"}'
# Escape pressed twice in the terminal moves the keyboard focus out of it (xterm.js keeps
# every key, Tab included). A capture listener sees keys before xterm does: it holds an
# Escape back for ESCAPE_MS; a second Escape then moves the focus (neither reaches the
# shell, so no Meta prefix is left pending there), anything else sends the held Escape to
# the shell first (Esc . still works), and so does the end of the wait. Installed once.
ESCAPE_MS = 400
ESCAPE_OUT = """
if (!window.__mboxTerminalEscape) {
  window.__mboxTerminalEscape = true;
  let held = null;
  const send = () => {
    if (!held) return;
    clearTimeout(held.timer);
    const id = held.id;
    held = null;
    window.__reflexXterm?.[id]?.input("\\x1b");
  };
  document.addEventListener("keydown", (event) => {
    const screen = event.target instanceof Element
      && event.target.closest("[data-terminal-screen]");
    if (!screen) return;
    const plain = !(event.ctrlKey || event.altKey || event.metaKey || event.shiftKey);
    if (event.key !== "Escape" || !plain) { send(); return; }
    event.preventDefault();
    event.stopPropagation();
    if (held) {
      clearTimeout(held.timer);
      held = null;
      document.getElementById("terminal-keys")?.focus();
      return;
    }
    held = { id: screen.dataset.terminalScreen, timer: setTimeout(send, MS) };
  }, true);
}
""".replace("MS", str(ESCAPE_MS))
# The clipboard read resolves to null when the browser refuses it (no permission).
READ_CLIPBOARD = "navigator.clipboard.readText().catch(() => null)"


def copy_to_clipboard(text: str, callback: Any) -> rx.event.EventSpec:
    """Write `text` to the clipboard; `callback` gets whether the browser allowed it."""
    script = f"navigator.clipboard.writeText({json.dumps(text)}).then(() => true, () => false)"
    return rx.call_script(script, callback=callback)


def terminal_url(sandbox_id: str, terminal_id: str, watch: bool = False) -> str:
    """The terminal socket, relative: the component resolves ws(s)://<this host> itself, and
    the browser sends the console sign-in cookie (same origin). The shell is the sandbox
    user's login shell (else bash, else sh: arrow keys and history work). `watch`: see the
    output without typing (a role that may read but not operate)."""
    url = f"/v1/sandboxes/{sandbox_id}/terminal?terminal={terminal_id}&client=console&shell=login"
    return f"{url}&mode=watch" if watch else url


def _refused(code: int, reason: str) -> str:
    why = reason or f"code {code}"
    if code == REFUSED + 401:
        return "The server refused the terminal: sign in again, then Connect."
    if code == REFUSED + 409:
        return f"The terminal is not available: {why}."
    return f"The server refused the terminal ({why})."


def close_outcome(code: int, reason: str) -> tuple[str, str] | None:
    """(status, words) for a close that ends this terminal id; None when it may reconnect.

    A shell that exited closes with 1000; if that close was lost (a dropped connection),
    the reconnect is refused with TERMINAL_ENDED: the same news."""
    if code == SHELL_EXITED or (code == REFUSED + 409 and reason == TERMINAL_ENDED):
        return "ended", "The shell exited. Start a new terminal to go on."
    if code == REFUSED + 409:  # this terminal cannot come back: Connect starts a new one
        return "ended", _refused(code, reason)
    if code >= REFUSED:
        return "disconnected", _refused(code, reason)
    return None


class TerminalTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "terminal"
    terminal_id: str = ""
    # connecting | connected | reconnecting | disconnected | ended ("" before a terminal)
    status: str = ""
    detail: str = ""  # the connection in words, beside the badge
    failures: int = 0  # failed connections in a row (the retry delay grows)
    focus_mode: bool = False  # the terminal covers the window
    _copied: int = 0  # characters being copied

    @rx.var
    def short(self) -> str:
        return short_id(self.terminal_id)

    @rx.var
    def retry_ms(self) -> int:
        return min(RECONNECT_MS * 2 ** min(self.failures, 8), MAX_RECONNECT_MS)

    @rx.var
    def live(self) -> bool:
        """Connected, or on the way: Disconnect applies."""
        return self.status in ("connecting", "connected", "reconnecting")

    def _api(self) -> XTermAPI:
        return XTermAPI(self.terminal_id)

    def _url(self) -> str:
        return terminal_url(self.view.id, self.terminal_id, watch=not self.can_operate)

    def _reloaded(self) -> None:
        """The page loaded again: the terminal mounts again and reconnects."""
        if self.terminal_id:
            self.status, self.detail = "connecting", ""

    def _use_terminal(self, terminal_id: str) -> None:
        """Show this terminal: the component mounts it and `terminal_ready` connects."""
        self.terminal_id = terminal_id
        self.status, self.detail = "connecting", ""
        self.notice = self.error = ""
        self.failures = 0

    def _follow_view(self) -> None:
        """Keep the terminal in step with the sandbox: a terminal once the Terminal tab shows
        a running sandbox; none while it does not run (its processes ended). A role that
        may only watch starts no shell: it attaches to one from the Sessions tab."""
        if self.view.status != "running":
            if self.terminal_id:
                self._reset()
        elif self.tab == "terminal" and not self.terminal_id and self.can_operate:
            self._use_terminal(str(uuid.uuid4()))

    @rx.event
    def terminal_ready(self, _cols: int, _rows: int):
        """The terminal mounted (page load, a new or attached terminal): connect it."""
        keys = rx.call_script(ESCAPE_OUT)
        if not self.terminal_id or self.status in ("disconnected", "ended"):
            return keys
        self.status = "reconnecting" if self.failures else "connecting"
        return [keys, self._api().connect(self._url())]

    @rx.event
    def toggle_focus_mode(self):
        """The terminal takes the whole window, or gives it back; it keeps the keyboard."""
        self.focus_mode = not self.focus_mode
        return self._api().focus()

    @rx.event
    def terminal_opened(self, _url: str):
        self.status, self.detail = "connected", ""
        self.failures = 0

    @rx.event
    def terminal_closed(self, code: int, reason: str):
        if self.status in ("disconnected", "ended"):
            return None
        final = close_outcome(code, reason)
        if final is not None:  # no reconnect: the id belongs to an ended or refused shell
            self.status, self.detail = final
            return self._api().disconnect()
        retry = self.retry_ms
        self.failures += 1
        self.status = "reconnecting"
        self.detail = (
            f"Connection lost; trying again in {duration(retry / 1000)}. "
            "The shell keeps running meanwhile."
        )
        return None

    @rx.event
    def terminal_failed(self, _message: str):
        if self.status == "connecting":
            self.detail = "Could not reach the terminal yet; trying again."

    @rx.event
    def connect_terminal(self):
        if not self.terminal_id or self.view.status != "running":
            return None
        if self.status == "ended" and self.can_operate:
            self._use_terminal(str(uuid.uuid4()))
            return None
        return self._connect()

    def _connect(self) -> rx.event.EventSpec:
        self.status, self.detail = "connecting", ""
        self.failures = 0
        return self._api().connect(self._url())

    @rx.event
    def disconnect_terminal(self):
        if not self.terminal_id:
            return None
        grace = duration(services().settings.terminal_grace_seconds)
        self.status = "disconnected"
        self.detail = (
            f"Disconnected. The shell keeps running for {grace} without a window; "
            "Connect picks it up again."
        )
        return self._api().disconnect()

    @rx.event
    def new_terminal(self):
        if self.view.status == "running" and self.can_operate:
            self._use_terminal(str(uuid.uuid4()))

    @rx.event
    def copy_selection(self):
        self.notice = self.error = ""
        return self._api().get_selection(callback=type(self).copy_text)

    @rx.event
    def copy_text(self, text: str | None = None):
        if not text:
            self.error = "Select text in the terminal first, then Copy."
            return None
        self._copied = len(text)
        return copy_to_clipboard(text, type(self).copied_text)

    @rx.event
    def copied_text(self, done: bool):
        if done:
            self.notice = f"Copied {self._copied} characters to the clipboard."
        else:
            self.error = (
                "The browser did not let the console write to the clipboard: right-click "
                "the selection and choose Copy instead."
            )

    @rx.event
    def paste_text(self, form: dict[str, Any]):
        self.notice = self.error = ""
        text = str(form.get("paste") or "")
        if not text:
            self.error = "Type or drop the text to paste into the field first."
            return None
        return self._paste(text)

    @rx.event
    def paste_clipboard(self):
        self.notice = self.error = ""
        return rx.call_script(READ_CLIPBOARD, callback=type(self).paste_from_clipboard)

    @rx.event
    def paste_from_clipboard(self, text: str | None = None):
        if text is None:
            self.error = (
                "The browser did not let the console read the clipboard: paste into the "
                "field instead."
            )
            return None
        if not text:
            self.error = "The clipboard is empty."
            return None
        return self._paste(text)

    def _paste(self, text: str) -> list:
        if self.status != "connected":
            self.error = "Connect the terminal first: pasted text goes to the shell."
            return []
        self.notice = f"Pasted {len(text)} characters."
        api = self._api()
        return [api.paste(text), api.focus()]

    @rx.event
    def take_control(self):
        """Type from this window when several share the terminal (one types at a time)."""
        self.notice = self.error = ""
        if self.status != "connected":
            self.error = "Connect the terminal first."
            return None
        self.notice = "This window now types into the terminal; the others watch."
        api = self._api()
        return [api.send(TAKE_CONTROL), api.focus()]

    @rx.event
    def attach_terminal(self, terminal_id: str):
        """Show another terminal of this sandbox (from the Sessions tab)."""
        if self.view.status != "running":
            return None
        self.tab, self._tab_chosen = "terminal", True
        if terminal_id != self.terminal_id:
            self._use_terminal(terminal_id)  # the component remounts and connects
            return None
        if self.status == "disconnected":
            return self._connect()
        return None
