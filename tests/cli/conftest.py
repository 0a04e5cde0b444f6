"""The CLI against a live server: `mbox` run as a program (a subprocess), configured by
its environment, with HOME in a temporary directory so contexts never touch the real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str
    raw: bytes  # stdout as bytes

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs `python -m mbox.cli ...` with a clean environment: only what it is given."""

    env: dict[str, str]
    home: Path

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: bytes | None = None,
        code: int | None = 0,
        cwd: Path | None = None,
    ) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "mbox.cli", *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            cwd=cwd or self.home,
            timeout=120,
        )
        result = Result(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
            done.stdout,
        )
        if code is not None:
            assert result.code == code, f"mbox {' '.join(args)} -> {result.code}: {result.err}"
        return result

    def json(self, *args: str, **options: Any) -> Any:
        return self(*args, **options).json()


def clean_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MBOX_")}
    env |= {"HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return env


@pytest.fixture(scope="session")
def cli(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Configured by MBOX_API_URL and MBOX_TOKEN, as a script would be."""
    home = tmp_path_factory.mktemp("cli-home")
    return Cli(clean_env(home) | live.env(), home)


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """No server configured: a fresh HOME for contexts of its own."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(clean_env(home), home)


@pytest.fixture(scope="session")
def project(cli: Cli) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    return cli.json("projects", "create", "--name", f"cli {suffix}", "--namespace", "cli-tests")


@pytest.fixture(scope="session")
def sandbox(cli: Cli, project: dict[str, Any]) -> dict[str, Any]:
    """A running sandbox from the `shell` template, launched with --wait."""
    name = f"cli-box-{uuid.uuid4().hex[:6]}"
    created = cli.json(
        "sandboxes",
        "create",
        "--project",
        project["slug"],
        "--template",
        "shell",
        "--name",
        name,
        "--wait",
    )
    assert created["status"] == "running"
    return created
