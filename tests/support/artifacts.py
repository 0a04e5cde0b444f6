"""A big artifact through a real server process: the round trip the memory test and the
artifact benchmark both measure (upload, then a streamed download, sha256 both ways)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from tests.support.api_server import ServerProcess

MiB = 1024 * 1024
# What a server may add while streaming: buffers, never the file. S3 sends 8 MiB parts,
# and a few copies of the part in flight (ours, botocore's, malloc arenas) add up.
FLAT_MB = {"s3": 80.0}
DEFAULT_FLAT_MB = 48.0


def body(size: int) -> Iterator[bytes]:
    """`size` bytes of varied content without holding them: a 1 MiB block, salted per chunk."""
    block = hashlib.sha256(b"mbox").digest() * (MiB // 32)
    for index in range(size // MiB):
        yield index.to_bytes(8, "big") + block[8:]


def sha256(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def create_artifact(client: httpx.Client) -> str:
    def post(path: str, payload: dict) -> dict:
        response = client.post(path, json=payload)
        assert response.status_code in (200, 201), response.text
        return response.json()

    project = post("/v1/projects", {"name": "big", "defaultNamespace": "big"})
    template = post("/v1/templates", {"name": "big", "image": "host"})
    sandbox = post(
        "/v1/sandboxes", {"projectId": project["id"], "templateId": template["id"], "name": "big"}
    )
    payload = {"kind": "file", "name": "big.bin", "uri": "client://big.bin"}
    return post(f"/v1/sandboxes/{sandbox['id']}/artifacts", payload)["id"]


@dataclass
class Transfer:
    upload_seconds: float
    download_seconds: float
    grown_mb: float  # the server's peak RSS over its RSS before the transfers


def round_trip(server: ServerProcess, client: httpx.Client, size: int) -> Transfer:
    """Upload `size` bytes and download them again, checking both; measure the server."""
    expected = sha256(body(size))
    content = f"/v1/artifacts/{create_artifact(client)}/content"
    client.put(content, content=b"warm-up").raise_for_status()
    server.reset_peak()
    baseline = server.rss_mb()
    started = time.perf_counter()
    uploaded = client.put(content, content=body(size))
    upload_seconds = time.perf_counter() - started
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["retainedContent"]["sha256"] == expected, "upload sha256"
    digest, received = hashlib.sha256(), 0
    started = time.perf_counter()
    with client.stream("GET", content) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            digest.update(chunk)
            received += len(chunk)
    download_seconds = time.perf_counter() - started
    assert (received, digest.hexdigest()) == (size, expected), "download sha256"
    return Transfer(upload_seconds, download_seconds, server.peak_rss_mb() - baseline)
