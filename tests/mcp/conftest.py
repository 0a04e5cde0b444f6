"""A live mbox server for the MCP tests, and the environment an agent host would give the
MCP server it starts: where the API is, the token, no context file in the way."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mbox import Mbox
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server_env(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The MCP server process's environment: PATH and HOME, the API's URL and token."""
    config = tmp_path_factory.mktemp("mcp-config") / "no-config.json"
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "MBOX_CONFIG": str(config),
        **live.env(),
    }


@pytest.fixture(scope="module")
def mbox(live: LiveServer, server_env: dict[str, str]) -> Iterator[Mbox]:
    """The SDK, to arrange what an agent would not (a project, a template with a port)."""
    with Mbox(live.url, live.token, config_file=server_env["MBOX_CONFIG"]) as client:
        yield client


@pytest.fixture(scope="module")
def project(mbox: Mbox):
    return mbox.projects.create(f"mcp {uuid.uuid4().hex[:8]}", default_namespace="mcp-tests")
