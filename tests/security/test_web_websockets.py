"""Cross-origin WebSockets and uploads: browsers send cookies on WebSocket handshakes and
form posts from any site, and CORS does not apply to WebSockets. The terminal runs in a
real sandbox behind a real HTTP server; the console's state socket (/_event) and uploads
(/_upload) run on the real server (`scripts/run`, Reflex), one per module."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.api.app import create_api
from backend.auth.service import SIGN_IN_COOKIE
from backend.services import build_services
from tests.e2e.harness import Server, ServerFailed, running_server
from tests.runtime.conftest import serving

EVIL = "http://evil.example"
TOKEN = "socket-token-81c4"
REFUSED = {"error": "cross-origin requests are refused"}
SIGNED_OUT = 4401
EVENT_SOCKET = "/_event/?EIO=4&transport=websocket"
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """These attacks do not depend on the database: SQLite only."""
    import shutil

    target = tmp_path / "mbox.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Server]:
    """The real server with a token (the console needs a sign-in cookie)."""
    data_dir = tmp_path_factory.mktemp("mbox-sockets")
    settings = {"MBOX_API_TOKEN": TOKEN, "MBOX_UPLOAD_MAX_BYTES": str(64 * 1024)}
    try:
        with running_server(data_dir, data_dir.parent / "sockets.log", settings) as server:
            yield server
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


async def signed_in(base: str) -> str:
    """A fresh console sign-in: the `Cookie` header value a signed-in browser sends."""
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.post("/login", data={"token": TOKEN, "next": "/"})
        assert response.status_code == 303, response.text
        return f"{SIGN_IN_COOKIE}={client.cookies[SIGN_IN_COOKIE]}"


async def sign_out(base: str, cookie: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.post("/logout", headers={"Cookie": cookie})
        assert response.status_code == 303


def ws(base: str) -> str:
    return base.replace("http", "ws", 1)


async def closed_code(socket, timeout: float) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    return socket.close_code


# -- the console's state socket and uploads (real Reflex server) -----------------------------


async def test_state_socket_refuses_foreign_origins(console):
    """Attack: evil.example opens the console's state socket (/_event) in a signed-in
    user's browser, which sends the sign-in cookie, and drives the console's event
    handlers (create, delete, run). Stopped by: a foreign Origin or `Sec-Fetch-Site:
    cross-site` is refused before the upgrade (403), with a valid cookie."""
    cookie = await signed_in(console.url)
    for marker in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                ws(console.url) + EVENT_SOCKET, additional_headers={"Cookie": cookie, **marker}
            )
        assert refused.value.response.status_code == 403, marker
    own = await connect(
        ws(console.url) + EVENT_SOCKET, additional_headers={"Cookie": cookie, "Origin": console.url}
    )
    assert (await asyncio.wait_for(own.recv(), 10)).startswith("0")  # engine.io "open"
    await own.close()


async def test_uploads_refuse_foreign_origins_and_are_capped(console):
    """Attack: evil.example posts a multipart form to /_upload with the user's cookie
    (a form needs no preflight), or anyone signed in sends an endless upload. Stopped by:
    the Origin check (403 JSON) and MBOX_UPLOAD_MAX_BYTES (413 JSON, here 64 KiB, whether
    the length is declared or the body is chunked)."""
    cookie = await signed_in(console.url)
    files = {"files": ("planted.txt", b"x" * 1024, "text/plain")}
    for marker in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
        # One connection per request: a refusal does not read the body it refuses.
        async with httpx.AsyncClient(base_url=console.url) as client:
            headers = {"Cookie": cookie, **marker}
            refused = await client.post("/_upload", files=files, headers=headers)
        assert refused.status_code == 403, marker
        assert refused.json() == REFUSED
    status_line, response = await raw_upload(console.url, cookie, b"Content-Length: 1073741824")
    assert status_line.split()[1] == b"413", status_line
    assert b'{"error": "upload is larger than 65536 bytes"}' in response


async def test_chunked_uploads_are_capped_while_read(settings, database, runtime):
    """Attack: the same endless upload without a declared length (chunked), so only
    counting what the app reads can stop it. Stopped by: the cap on what /_upload reads
    (413 JSON as soon as it passes MBOX_UPLOAD_MAX_BYTES). The console here stands in for
    Reflex's upload handler and reads everything it is given."""

    async def reads_everything(scope, receive, send):
        body = await Request(scope, receive).body()
        await PlainTextResponse(f"stored {len(body)} bytes")(scope, receive, send)

    capped = settings.model_copy(update={"upload_max_bytes": 64 * 1024})
    app = create_api(reads_everything, services=build_services(capped, database, runtime))
    async with serving(app) as base:
        status_line, response = await raw_upload(base, "", b"Transfer-Encoding: chunked")
    assert status_line.split()[1] == b"413", status_line
    assert b'{"error": "upload is larger than 65536 bytes"}' in response


async def raw_upload(base: str, cookie: str, framing: bytes) -> tuple[bytes, bytes]:
    """POST 128 KiB to /_upload from the console's origin over a raw socket, paced so
    that writing stops once the server answered; (status line, rest of the response)."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"POST /_upload HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
        b"Origin: " + base.encode() + b"\r\nCookie: " + cookie.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n" + framing + b"\r\n\r\n"
    )
    body = b"x" * 128 * 1024
    status_line = b""
    try:
        for start in range(0, len(body), 16 * 1024):
            chunk = body[start : start + 16 * 1024]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if b"chunked" in framing else chunk)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                status_line = await asyncio.wait_for(reader.readline(), timeout=0.5)
                break
        response = await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()  # an app still waiting for the body must not hold the server open
    return status_line, response


async def test_sign_out_closes_the_state_socket(console):
    """Attack: a console tab left open keeps its state socket (and with it the console)
    after the user signed out, or someone else signed the sign-in out. Stopped by: sign-out
    revokes the sign-in and closes its sockets (4401); the cookie opens no new one."""
    cookie = await signed_in(console.url)
    own = {"Cookie": cookie, "Origin": console.url}
    socket = await connect(ws(console.url) + EVENT_SOCKET, additional_headers=own)
    assert (await asyncio.wait_for(socket.recv(), 10)).startswith("0")
    await sign_out(console.url, cookie)
    assert await closed_code(socket, timeout=10) == SIGNED_OUT
    with pytest.raises(InvalidStatus) as refused:  # closed before the upgrade
        await connect(ws(console.url) + EVENT_SOCKET, additional_headers=own)
    assert refused.value.response.status_code == 403


# -- the terminal (real sandbox, real HTTP server) --------------------------------------------


@pytest.fixture
async def sandbox(world) -> dict:
    return await world.running_sandbox()


@pytest.fixture(params=["open", "secured"])
async def terminal_server(request, settings, database, runtime) -> AsyncIterator[tuple[str, dict]]:
    """A server with authentication off or on, and the headers a program would send."""
    secured = request.param == "secured"
    used = settings.model_copy(update={"api_token": TOKEN if secured else "", "allowed_hosts": ""})
    app = create_api(services=build_services(used, database, runtime))
    async with serving(app) as base:
        yield base, ({"Authorization": f"Bearer {TOKEN}"} if secured else {})


async def test_terminal_refuses_foreign_origins(terminal_server, sandbox):
    """Attack: evil.example opens a shell in a sandbox through the terminal WebSocket,
    directly or after re-binding its own name to this machine (then Origin and Host agree),
    with the token or without one (authentication off). Stopped by: the Origin check (403)
    and the Host allowlist (421), both before the upgrade."""
    base, auth = terminal_server
    url = f"{ws(base)}/v1/sandboxes/{sandbox['id']}/terminal"
    port = base.rsplit(":", 1)[1]
    for headers, status in [
        ({"Origin": EVIL}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
    ]:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers={**auth, **headers})
        assert refused.value.response.status_code == status, headers
        assert json.loads(refused.value.response.body)["error"]
    rebound = f"evil.example:{port}"  # a WebSocket client cannot set Host: a raw handshake
    async with httpx.AsyncClient(base_url=base) as client:
        handshake = await client.get(
            f"/v1/sandboxes/{sandbox['id']}/terminal",
            headers={**auth, **UPGRADE, "Host": rebound, "Origin": f"http://{rebound}"},
        )
    assert handshake.status_code == 421
    own = await connect(url + "?events=1", additional_headers={**auth, "Origin": base})
    assert json.loads(await own.recv())["type"] == "attached"
    await own.close()


async def test_sign_out_closes_terminals(settings, database, runtime, sandbox):
    """Attack: a terminal opened by the console keeps its shell after the user signed out.
    Stopped by: sign-out closes every socket of the sign-in (4401) and the cookie is
    refused from then on (401)."""
    secured = settings.model_copy(update={"api_token": TOKEN})
    app = create_api(services=build_services(secured, database, runtime))
    async with serving(app) as base:
        cookie = await signed_in(base)
        url = f"{ws(base)}/v1/sandboxes/{sandbox['id']}/terminal?events=1"
        own = {"Cookie": cookie, "Origin": base}
        terminal = await connect(url, additional_headers=own)
        try:
            assert json.loads(await terminal.recv())["type"] == "attached"
            await sign_out(base, cookie)
            assert await closed_code(terminal, timeout=5) == SIGNED_OUT
        finally:
            await terminal.close()
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=own)
        assert refused.value.response.status_code == 401


async def test_sign_out_on_another_replica_closes_terminals(settings, database, runtime, sandbox):
    """Attack: behind a load balancer the terminal runs on replica B while the user signs
    out through replica A, which holds none of B's sockets; the shell stays open. Stopped
    by: every replica re-reads the revocation table for its open sockets (POLL_SECONDS) and
    closes them (4401)."""
    secured = settings.model_copy(update={"api_token": TOKEN})
    replica_a = create_api(services=build_services(secured, database, runtime))
    replica_b = create_api(services=build_services(secured, database, runtime))
    replica_b.state.sign_ins.POLL_SECONDS = 0.2
    async with serving(replica_a) as base_a, serving(replica_b) as base_b:
        cookie = await signed_in(base_a)
        url = f"{ws(base_b)}/v1/sandboxes/{sandbox['id']}/terminal?events=1"
        terminal = await connect(url, additional_headers={"Cookie": cookie, "Origin": base_b})
        try:
            assert json.loads(await terminal.recv())["type"] == "attached"
            await sign_out(base_a, cookie)
            assert await closed_code(terminal, timeout=5) == SIGNED_OUT
        finally:
            await terminal.close()
