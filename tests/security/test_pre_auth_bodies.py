"""Attacks with oversized bodies on every route an anonymous client can reach.

A server with a token still has to read something before it knows who is asking: a
client that sends 64 MiB (declared, or chunked without a length) to such a route must be
answered at once, without the server buffering the body. The server runs in its own
process so that its memory is measured alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.api_server import ServerProcess, api_server

TOKEN = "pre-auth-token-7d1e"
BODY_BYTES = 64 * 1024**2
CHUNK = b"x" * (1024 * 1024)
PREVIEW_HOST = f"8080-{uuid.uuid4().hex}.preview.localhost"
# (method, path, extra headers): everything reachable before authentication.
ROUTES = [
    ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/logout", {}),
    ("GET", "/healthz", {}),
    ("GET", "/v1/info", {}),
    ("POST", "/v1/projects", {"Content-Type": "application/json"}),
    ("PUT", f"/v1/artifacts/{uuid.uuid4()}/content", {}),
    ("PUT", f"/v1/sandboxes/{uuid.uuid4()}/files/content?path=a", {}),
    ("POST", "/.mbox/link?token=nope", {"Host": PREVIEW_HOST}),
    ("POST", "/", {"Host": PREVIEW_HOST}),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("pre-auth")
    env = {"MBOX_DATA_DIR": str(data), "MBOX_API_TOKEN": TOKEN, "DATABASE_URL": ""}
    with api_server(env) as process:
        yield process


def _chunks() -> Iterator[bytes]:
    for _ in range(BODY_BYTES // len(CHUNK)):
        yield CHUNK


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("method", "path", "headers"), ROUTES, ids=[r[1] for r in ROUTES])
def test_oversized_body_before_authentication(
    server: ServerProcess, method: str, path: str, headers: dict, declared: bool
) -> None:
    """Attack: 64 MiB to a route an anonymous client reaches, with and without a declared
    length. Stopped by: authentication and size checks before the body is read, routes
    without a body never read it (the server answers at once; its memory does not grow by
    the body)."""
    before = server.rss_mb()
    headers = {**headers, **({"Content-Length": str(BODY_BYTES)} if declared else {})}
    started = time.monotonic()
    try:
        response = httpx.request(
            method, server.base_url + path, content=_chunks(), headers=headers, timeout=20
        )
        status = response.status_code
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
        status = None  # the server answered and closed while we were still sending
    elapsed = time.monotonic() - started
    assert status is None or status < 500, status  # routes without a body ignore it
    assert elapsed < 10, elapsed
    assert server.rss_mb() - before < 32
    assert httpx.get(server.base_url + "/healthz").status_code == 200
