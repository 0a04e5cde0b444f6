"""End-to-end fixtures: the real server started by scripts/run, and a Chromium to drive it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Server, ServerFailed, running_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("mbox-data")
    try:
        with running_server(data_dir, data_dir.parent / "server.log") as server:
            yield server
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's chromium where present (Playwright cannot download browsers offline)."""
    executable = os.environ.get("MBOX_TEST_CHROMIUM") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    extra = {"executable_path": executable} if executable else {}
    return {**browser_type_launch_args, **extra, "args": CHROMIUM_ARGS}
