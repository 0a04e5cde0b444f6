"""`mbox shell`: this terminal, in raw mode, attached to a sandbox's terminal.

Keys go to the sandbox as typed; the window size follows this terminal (SIGWINCH); the
detach key (Ctrl-] unless told otherwise) leaves the shell running, to reattach by its
terminal id. Returns the shell's exit code (0 on detach).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import termios
import threading
import tty
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mbox._sync.sandbox import Sandbox
    from mbox._sync.terminal import Terminal

DETACH_KEYS = {f"ctrl-{chr(c)}": bytes([c - 96]) for c in range(ord("a"), ord("z") + 1)}
DETACH_KEYS |= {"ctrl-]": b"\x1d", "ctrl-\\": b"\x1c", "ctrl-^": b"\x1e", "ctrl-_": b"\x1f"}


def detach_byte(name: str) -> bytes:
    """The byte a detach key sends; a usage error (exit 2) for one it cannot be."""
    try:
        return DETACH_KEYS[name.lower()]
    except KeyError:
        raise typer.BadParameter(
            f"unknown detach key {name!r}: use ctrl-] or ctrl-<letter>", param_hint="--detach-key"
        ) from None


def run_shell(
    sandbox: Sandbox,
    *,
    terminal_id: str | None = None,
    shell: str | None = None,
    detach_key: str = "ctrl-]",
) -> int:
    detach = detach_byte(detach_key)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    columns, rows = _size(stdout)
    terminal = sandbox.terminal.attach(
        terminal_id, shell=shell, rows=rows, cols=columns, client="mbox-cli"
    )
    with _raw(stdin):
        outcome = _Session(terminal, stdin, stdout, detach).run()
    if outcome == "detached":
        print(
            f"\ndetached from terminal {terminal.id}; reattach with: "
            f"mbox shell {sandbox.id} --terminal {terminal.id}",
            file=sys.stderr,
        )
        return 0
    return terminal.exit_code or 0


class _Session:
    """Two directions at once: the sandbox's output in a thread, this side's keys and
    window changes in the caller's; a pipe wakes the latter when the terminal ends."""

    def __init__(self, terminal: Terminal, stdin: int, stdout: int, detach: bytes) -> None:
        self.terminal = terminal
        self.stdin, self.stdout, self.detach = stdin, stdout, detach
        self.wake_read, self.wake_write = os.pipe()
        self.resized = False

    def run(self) -> str:
        previous = signal.signal(signal.SIGWINCH, self._on_resize)
        output = threading.Thread(target=self._copy_output, daemon=True)
        output.start()
        try:
            return self._copy_input()
        finally:
            signal.signal(signal.SIGWINCH, previous)
            with contextlib.suppress(Exception):
                self.terminal.close()
            output.join(timeout=2)
            os.close(self.wake_read)
            os.close(self.wake_write)

    def _on_resize(self, _signum: int, _frame: object) -> None:
        self.resized = True
        os.write(self.wake_write, b"r")

    def _copy_output(self) -> None:
        try:
            while chunk := self.terminal.read():
                os.write(self.stdout, chunk)
        except Exception:  # the connection went away: the input side ends too
            pass
        finally:
            with contextlib.suppress(OSError):
                os.write(self.wake_write, b"x")

    def _copy_input(self) -> str:
        while True:
            ready, _, _ = select.select([self.stdin, self.wake_read], [], [])
            if self.wake_read in ready:
                signals = os.read(self.wake_read, 64)
                if b"x" in signals:
                    return "ended"
            if self.resized:
                self.resized = False
                columns, rows = _size(self.stdout)
                self.terminal.resize(rows, columns)
            if self.stdin in ready:
                keys = os.read(self.stdin, 4096)
                if not keys:
                    return "detached"  # our input closed: leave the shell running
                if self.detach in keys:
                    before = keys.split(self.detach, 1)[0]
                    if before:
                        self.terminal.send(before)
                    return "detached"
                self.terminal.send(keys)


def _size(fd: int) -> tuple[int, int]:
    """(columns, rows) of this terminal; a terminal that says 0x0 (a fresh pty, a pipe)
    gets $COLUMNS/$LINES or 80x24."""
    try:
        size = os.get_terminal_size(fd)
        columns, rows = size.columns, size.lines
    except OSError:
        columns = rows = 0
    if columns <= 0 or rows <= 0:
        fallback = shutil.get_terminal_size()
        columns, rows = fallback.columns or 80, fallback.lines or 24
    return columns, rows


@contextlib.contextmanager
def _raw(fd: int):
    """Raw mode while attached (when stdin is a terminal), restored whatever happens."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
