"""Start and stop the real server the way a user does (`scripts/run`), for the e2e tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page

from tests.support.builders import free_port

ROOT = Path(__file__).resolve().parents[2]
# A fresh machine builds the console on first start (bun install + vite); later starts reuse it.
START_TIMEOUT = float(os.environ.get("MBOX_TEST_START_TIMEOUT", "300"))


class ServerFailed(RuntimeError):
    """The server exited or never served; the message carries the tail of its log."""


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path


@contextlib.contextmanager
def running_server(
    data_dir: Path, log_path: Path, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """scripts/run on a free port with `data_dir` (plus `settings`), in its own process group."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **_without_mbox_settings(os.environ),
        "MBOX_PORT": str(port),
        "MBOX_DATA_DIR": str(data_dir),
        **(settings or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # teardown can reach reflex and its workers as a group
        )
    try:
        _wait_until_serving(process, url, log_path)
        yield Server(url, data_dir)
    finally:
        _stop(process)


def _without_mbox_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus mbox settings: the server gets defaults + a fresh SQLite."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith("MBOX_") and key != "DATABASE_URL"
    }


def _wait_until_serving(process: subprocess.Popen, url: str, log_path: Path) -> None:
    """Wait for the API and the built console; fail with the server's log if it dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode}:\n{_tail(log_path)}")
        if _responds(f"{url}/healthz") and _responds(f"{url}/projects", "<html"):
            return
        time.sleep(0.25)
    raise ServerFailed(f"server not serving after {START_TIMEOUT:.0f}s:\n{_tail(log_path)}")


def _responds(url: str, contains: str = "") -> bool:
    try:
        response = httpx.get(url, follow_redirects=True, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and contains in response.text


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server (granian stops its workers), then SIGKILL the group's leftovers.

    Only the leader gets SIGTERM: signalling every worker too can wedge granian's shutdown.
    """
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


LIFECYCLE_TIMEOUT = 15_000  # ms: a sandbox starts within about a second; allow a busy machine


def screenshot(
    target: Page | Locator, pytestconfig: pytest.Config, name: str, *, full_page: bool = False
) -> None:
    """Save a screenshot under the test output dir (look at them: they are the review)."""
    output = Path(pytestconfig.getoption("--output"))
    output.mkdir(parents=True, exist_ok=True)
    if full_page and isinstance(target, Page):
        target.evaluate("window.scrollTo(0, 0)")  # the shell's sidebar is sticky
        target.screenshot(path=output / name, full_page=True)
    else:
        target.screenshot(path=output / name)
