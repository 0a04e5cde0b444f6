"""Runtime fixtures: a real local runtime (bubblewrap) in a temp dir, and sandbox specs."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime.base import Limits, SandboxSpec
from backend.runtime.local import LocalRuntime
from tests.conftest import sandbox_dir

LIMITS = Limits(
    memory_bytes=2 * 1024**3, processes=256, open_files=1024, file_size_bytes=64 * 1024**2
)


@pytest.fixture(autouse=True, scope="session")
def _bubblewrap_installed() -> None:
    missing = [
        tool for tool in ("bwrap", "setpriv", "nsenter", "prlimit") if not shutil.which(tool)
    ]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install them with "
            "`apt-get install bubblewrap util-linux`",
            pytrace=False,
        )


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS)
    yield runtime
    await runtime.close()


def spec(*command: str, network: str = "restricted", **overrides: object) -> SandboxSpec:
    fields = {
        "sandbox_id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "slug": "test-box",
        "image": "local",
        "command": command,
        "working_dir": "/workspace",
        "env": {"GREETING": "hello"},
        "network_policy": network,
        "ports": (),
        "namespace": "test",
        "service_account": "mbox-sandbox",
    }
    return SandboxSpec(**{**fields, **overrides})


async def run(runtime: LocalRuntime, sandbox_id: uuid.UUID, script: str, **kwargs: object):
    """Run `sh -c script` in the sandbox; return (exit code, stdout, stderr)."""
    process = await runtime.exec(sandbox_id, ["sh", "-c", script], **kwargs)
    stdout = b"".join([chunk async for chunk in process.stdout()])
    stderr = b"".join([chunk async for chunk in process.stderr()])
    return await process.wait(), stdout.decode(), stderr.decode()
