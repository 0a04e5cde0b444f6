"""`mbox shell` and `mbox sandboxes create --wait --shell` in a real pseudo-terminal: keys
go to the sandbox's shell, its exit code comes back, the detach key leaves it running
and --terminal reattaches; the launch spinner shows on a terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time
import uuid

from tests.cli.conftest import Cli


class Pty:
    def __init__(self, cli: Cli, *args: str, size: tuple[int, int] | None = (30, 100)) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: mbox on the terminal
            os.chdir(cli.home)
            env = {k: v for k, v in cli.env.items() if k not in ("COLUMNS", "LINES")}
            os.execve(sys.executable, [sys.executable, "-m", "mbox.cli", *args], env)
        if size is not None:
            self.resize(*size)
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        """The window changes: the kernel tells mbox (SIGWINCH), as a terminal emulator's
        resize would."""
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, wanted: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            assert time.monotonic() < deadline, f"no {wanted!r} in {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child has gone
                    chunk = b""
                assert chunk, f"ended without {wanted!r}: {self.seen[-500:]!r}"
                self.seen += chunk
        return self.seen

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_code(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(with_status[1])
            select.select([self.fd], [], [], 0.1)
            with contextlib.suppress(OSError):
                self.seen += os.read(self.fd, 4096)
        os.kill(self.pid, 9)
        raise AssertionError(f"mbox did not exit: {self.seen[-500:]!r}")


def test_shell_exit_code_detach_and_reattach(cli: Cli, sandbox) -> None:
    session = Pty(cli, "shell", sandbox["slug"])
    session.expect(b"$ ")
    session.send(b"echo hello-$((6 * 7)); MARK=kept\r")
    session.expect(b"hello-42")
    session.send(b"\x1d")  # ctrl-]: detach, the shell goes on
    assert session.exit_code() == 0
    text = session.seen.decode(errors="replace")
    assert "--terminal " in text
    terminal_id = text.split("--terminal ", 1)[1].split()[0]

    again = Pty(cli, "shell", sandbox["id"], "--terminal", terminal_id)
    again.expect(b"hello-42")  # the scrollback, replayed
    again.send(b"echo mark=$MARK\r")
    again.expect(b"mark=kept")  # the same shell
    again.send(b"exit 5\r")
    assert again.exit_code() == 5


def test_create_wait_shell_in_one_step_with_a_spinner(cli: Cli, project) -> None:
    name = f"cli-pty-{uuid.uuid4().hex[:6]}"
    session = Pty(
        cli,
        "sandboxes",
        "create",
        "--project",
        project["id"],
        "--template",
        "shell",
        "--name",
        name,
        "--wait",
        "--shell",
    )
    session.expect(b"launching: ")
    session.expect(b"$ ")
    session.send(b"exit 3\r")
    assert session.exit_code() == 3
    assert cli.json("sandboxes", "get", name)["status"] == "running"
    cli("sandboxes", "delete", name)


def test_the_window_size_follows_this_terminal(cli: Cli, sandbox) -> None:
    session = Pty(cli, "shell", sandbox["id"])
    session.expect(b"$ ")
    session.send(b"stty size\r")
    session.expect(b"30 100")
    session.resize(40, 120)
    time.sleep(0.3)  # the resize message goes before the next keys
    session.send(b"stty size\r")
    session.expect(b"40 120")
    session.send(b"exit\r")
    assert session.exit_code() == 0


def test_a_terminal_that_reports_no_size_gets_a_usable_one(cli: Cli, sandbox) -> None:
    session = Pty(cli, "shell", sandbox["id"], size=None)  # a fresh pty says 0x0
    session.expect(b"$ ")
    session.send(b"stty size\r")
    session.expect(b"24 80")
    session.send(b"exit\r")
    assert session.exit_code() == 0


def test_another_detach_key(cli: Cli, sandbox) -> None:
    session = Pty(cli, "shell", sandbox["id"], "--detach-key", "ctrl-q")
    session.expect(b"$ ")
    session.send(b"\x1d")  # ctrl-] is a plain key now: nothing happens
    session.send(b"echo still-here\r")
    session.expect(b"still-here")
    session.send(b"\x11")  # ctrl-q
    assert session.exit_code() == 0
    assert b"detached from terminal" in session.seen
