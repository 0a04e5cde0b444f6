"""100 MB through a real server process on each backend: bytes intact both ways, and the
server's peak memory (VmHWM, reset before the transfer) stays flat."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import _postgres_url
from tests.support.api_server import api_server
from tests.support.artifacts import DEFAULT_FLAT_MB, FLAT_MB, MiB, round_trip

SIZE = 100 * MiB


def _env(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {"MBOX_DATA_DIR": str(tmp_path / "data"), "MBOX_ARTIFACT_CONTENT_MAX_BYTES": str(SIZE)}
    if kind == "database-postgres":
        env["DATABASE_URL"] = _postgres_url(request.getfixturevalue("postgres"))
    backend = {"filesystem": "filesystem", "s3": "s3"}.get(kind, "postgres")
    env["MBOX_ARTIFACT_CONTENT_BACKEND"] = backend
    if kind == "s3":
        overrides = request.getfixturevalue("s3_server").overrides
        env |= {f"MBOX_{name.upper()}": str(value) for name, value in overrides.items()}
    return env


@pytest.mark.parametrize("kind", ["database-sqlite", "database-postgres", "filesystem", "s3"])
def test_100_mb_round_trip_keeps_server_memory_flat(kind, tmp_path, request):
    with (
        api_server(_env(kind, tmp_path, request)) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        grown = round_trip(server, client, SIZE).grown_mb
    limit = FLAT_MB.get(kind, DEFAULT_FLAT_MB)
    assert grown < limit, f"server peak grew by {grown:.0f} MB while streaming 100 MB"
