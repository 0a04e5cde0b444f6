"""A live server shared by the SDK tests (real HTTP, WebSockets, runtime and engines),
and clients of it configured the way a program would be: from the environment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mbox import Mbox
from tests.support.live import LiveServer


@pytest.fixture
def client_env(live: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, str]:
    """MBOX_API_URL and MBOX_TOKEN set, no context file in the way."""
    for name in ("MBOX_API_TOKEN", "MBOX_CONTEXT", "MBOX_REQUEST_ID", "MBOX_AUDIT_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MBOX_CONFIG", str(tmp_path / "no-config.json"))
    for name, value in live.env().items():
        monkeypatch.setenv(name, value)
    return live.env()


@pytest.fixture
def mbox(client_env: dict[str, str]) -> Iterator[Mbox]:
    with Mbox() as client:
        yield client


@pytest.fixture
def project(mbox: Mbox):
    return mbox.projects.create(f"sdk {uuid.uuid4().hex[:8]}", default_namespace="sdk-tests")
