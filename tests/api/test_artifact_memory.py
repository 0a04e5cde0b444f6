"""100 MB through a real server process on each backend: bytes intact both ways, and the
server's peak memory (VmHWM, reset before the transfer) stays flat."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _postgres_url
from tests.support.api_server import api_server

MiB = 1024 * 1024
SIZE = 100 * MiB
# What a server may add while streaming 100 MB: buffers, never the file. S3 sends 8 MiB
# parts, and a few copies of the part in flight (ours, botocore's, malloc arenas) add up.
FLAT_MB = {"s3": 80}
DEFAULT_FLAT_MB = 48


def _body() -> Iterator[bytes]:
    """100 MB of varied bytes without holding them: a 1 MiB block, salted per chunk."""
    block = hashlib.sha256(b"mbox").digest() * (MiB // 32)
    for index in range(SIZE // MiB):
        yield index.to_bytes(8, "big") + block[8:]


def _sha256(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


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


def _artifact(client: httpx.Client) -> str:
    project = client.post("/v1/projects", json={"name": "big", "defaultNamespace": "big"}).json()
    template = client.post("/v1/templates", json={"name": "big", "image": "local"}).json()
    sandbox = client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "big"},
    ).json()
    payload = {"kind": "file", "name": "big.bin", "uri": "client://big.bin"}
    return client.post(f"/v1/sandboxes/{sandbox['id']}/artifacts", json=payload).json()["id"]


@pytest.mark.parametrize("kind", ["database-sqlite", "database-postgres", "filesystem", "s3"])
def test_100_mb_round_trip_keeps_server_memory_flat(kind, tmp_path, request):
    expected = _sha256(_body())
    with (
        api_server(_env(kind, tmp_path, request)) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        artifact_id = _artifact(client)
        client.put(f"/v1/artifacts/{artifact_id}/content", content=b"warm-up").raise_for_status()
        server.reset_peak()
        baseline = server.rss_mb()
        uploaded = client.put(f"/v1/artifacts/{artifact_id}/content", content=_body())
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["retainedContent"]["sha256"] == expected
        digest, size = hashlib.sha256(), 0
        with client.stream("GET", f"/v1/artifacts/{artifact_id}/content") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                digest.update(chunk)
                size += len(chunk)
        assert (size, digest.hexdigest()) == (SIZE, expected)
        grown = server.peak_rss_mb() - baseline
        print(f"{kind}: server peak grew by {grown:.1f} MB")
        assert grown < FLAT_MB.get(kind, DEFAULT_FLAT_MB), (
            f"server peak grew by {grown:.0f} MB while streaming 100 MB"
        )
