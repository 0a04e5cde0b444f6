"""A live mbox server for client tests (SDK, CLI, MCP): the API with its engines in a
process of its own on a free loopback port, SQLite and the local runtime, a shared admin
token. Clients reach it as any program would: over HTTP and WebSockets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import sandbox_dir
from tests.support.api_server import ServerProcess, api_server

TOKEN = "live-test-token-4b1d"


@dataclass
class LiveServer:
    process: ServerProcess
    token: str
    data_dir: Path

    @property
    def url(self) -> str:
        return self.process.base_url

    def env(self) -> dict[str, str]:
        """The environment a client program gets: where the server is and who it is."""
        return {"MBOX_API_URL": self.url, "MBOX_TOKEN": self.token}


@contextlib.contextmanager
def live_server(root: Path, **settings: str) -> Iterator[LiveServer]:
    """`settings` are extra MBOX_* variables (name without the prefix, lower case)."""
    env = {
        "MBOX_DATA_DIR": str(root / "data"),
        "MBOX_LOCAL_SANDBOX_DIR": str(sandbox_dir(root)),
        "MBOX_API_TOKEN": TOKEN,
        "MBOX_RECONCILE_INTERVAL": "0.5",
        **{f"MBOX_{name.upper()}": value for name, value in settings.items()},
    }
    with api_server(env, engines=True) as process:
        yield LiveServer(process, TOKEN, root / "data")
