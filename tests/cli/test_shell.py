"""`mbox shell` in a real pseudo-terminal: raw keys to the sandbox's shell and its output
back, the window size on SIGWINCH, the detach key, and reattaching by terminal id with
the scrollback."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid

import pytest

from mbox import Mbox
from tests.cli.conftest import ROOT, clean_env


class PtyProgram:
    """`mbox ...` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 24, cols: int = 80):
        self.master, slave = pty.openpty()
        self.slave = slave
        self.resize(rows, cols)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mbox.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
        )
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, pattern: bytes, timeout: float = 15.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} never came; the screen: {self.seen[-600:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the program ended and closed the terminal
                    break
        match = re.search(pattern, self.seen)
        assert match, f"{pattern!r} never came; the screen: {self.seen[-600:]!r}"
        return match.group(0)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.process.wait(timeout)
        self.drain()
        return code

    def drain(self) -> None:
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def sandbox(live):
    with Mbox(api_url=live.url, token=live.token) as mbox:
        name = f"shell tests {uuid.uuid4().hex[:6]}"
        project = mbox.projects.create(name, default_namespace="cli-tests")
        with mbox.sandboxes.create("shell", project=project.id) as sb:
            yield sb


def test_shell_attaches_resizes_detaches_and_reattaches(live, sandbox, tmp_path) -> None:
    env = clean_env(tmp_path) | live.env() | {"TERM": "xterm"}
    first = PtyProgram(["shell", sandbox.id], env, rows=24, cols=80)
    try:
        first.expect(rb"\$ ")  # the prompt: keys typed earlier may be flushed by the shell
        first.send(b"echo $((6*7))x\r")
        first.expect(rb"42x")
        first.send(b"stty size\r")
        first.expect(rb"24 80")
        first.resize(30, 100)
        first.process.send_signal(signal.SIGWINCH)
        time.sleep(0.3)  # the resize message travels before the next keys
        first.send(b"stty size\r")
        first.expect(rb"30 100")
        first.send(b"\x1d")  # Ctrl-]: detach, the shell goes on
        assert first.wait() == 0
        terminal_id = first.expect(rb"--terminal [0-9a-f-]{36}").split()[-1].decode()
    finally:
        first.close()

    again = PtyProgram(["shell", sandbox.id, "--terminal", terminal_id], env, rows=30, cols=100)
    try:
        again.expect(rb"30 100")  # the scrollback of the same shell
        again.send(b"exit 3\r")
        assert again.wait() == 3  # the shell's exit code is mbox's
    finally:
        again.close()


def test_a_custom_detach_key_and_a_bad_one(live, sandbox, tmp_path) -> None:
    env = clean_env(tmp_path) | live.env()
    program = PtyProgram(["shell", sandbox.id, "--detach-key", "ctrl-q"], env)
    try:
        program.expect(rb"\$ ")
        program.send(b"echo ready\r")
        program.expect(rb"ready")
        program.send(b"\x11")  # Ctrl-Q
        assert program.wait() == 0
        program.expect(rb"detached from terminal")
    finally:
        program.close()
    refused = subprocess.run(
        [sys.executable, "-m", "mbox.cli", "shell", sandbox.id, "--detach-key", "alt-x"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stderr
    assert "detach key" in refused.stderr
