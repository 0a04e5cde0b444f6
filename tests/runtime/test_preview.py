"""Previews: a real app in a sandbox, reached through the API-origin proxy route and
through its preview origin (links, cookies), over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.api.app import create_api
from backend.auth.models import SYSTEM
from backend.db import utcnow
from backend.runtime.base import PortUnavailable, read_at_most
from backend.sandboxes import preview_grants, previews
from backend.sandboxes.models import PreviewLinkRow, SandboxRow
from backend.sandboxes.previews import preview_origin
from backend.services import build_services

PORT = 8000
IDLE_PORT = 8001  # declared, nothing listens
TOKEN = "preview-test-token"
pytestmark = pytest.mark.both_runtimes

# A small stdlib-only HTTP/1.1 + WebSocket server: echoes requests as JSON (with the
# headers it received and its connection's peer), streams 1 MiB chunked at /big, dies
# mid-body at /die, and echoes WebSocket frames ("headers" answers the handshake
# headers, "close:<code>" makes it close with that code).
APP = r"""
import asyncio, base64, hashlib, json, struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def read_request(reader):
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = []
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    fields = dict(headers)
    body = b""
    if fields.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readline()
    elif "content-length" in fields:
        body = await reader.readexactly(int(fields["content-length"]))
    return method, target, headers, fields, body


def frame(opcode, data):
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + data


async def websocket(reader, writer, fields):
    accept = base64.b64encode(hashlib.sha1(fields["sec-websocket-key"].encode() + GUID).digest())
    offered = [p.strip() for p in fields.get("sec-websocket-protocol", "").split(",") if p.strip()]
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Accept: " + accept.decode()]
    if offered:
        lines.append("Sec-WebSocket-Protocol: " + offered[0])
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    while True:
        first, second = await reader.readexactly(2)
        opcode, size = first & 0x0F, second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await reader.readexactly(8))[0]
        mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
        if opcode == 8:
            writer.write(frame(8, data[:2]))
            await writer.drain()
            return
        if opcode == 9:
            writer.write(frame(10, data))
        elif opcode == 1 and data == b"headers":
            writer.write(frame(1, json.dumps(fields).encode()))
        elif opcode == 1 and data.startswith(b"close:"):
            writer.write(frame(8, struct.pack("!H", int(data[6:])) + b"bye"))
        elif opcode in (1, 2):
            writer.write(frame(opcode, data))
        await writer.drain()


async def handle(reader, writer):
    peer = "%s:%d" % writer.get_extra_info("peername")[:2]
    try:
        while True:
            method, target, headers, fields, body = await read_request(reader)
            path = target.split("?")[0]
            if path == "/ws" and fields.get("upgrade", "").lower() == "websocket":
                await websocket(reader, writer, fields)
                return
            if path == "/big":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                data = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(32768))
                for start in range(0, len(data), 10000):
                    chunk = data[start:start + 10000]
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            elif path == "/die":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
                await writer.drain()
                return
            else:
                echo = json.dumps({"method": method, "target": target, "headers": headers,
                                   "body": body.decode("latin-1"), "peer": peer}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Set-Cookie: app=1; Path=/\r\nX-App: echo\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (len(echo), b"" if method == "HEAD" else echo))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 8000)
    async with server:
        await server.serve_forever()


asyncio.run(main())
"""

BIG_SHA256 = hashlib.sha256(
    b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(32768))
).hexdigest()


async def _listening(world, sandbox_id: str, timeout: float = 15.0) -> None:
    """Wait for the app to listen, without going through the proxy (no activity noted)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = await world.runtime.connect_port(uuid.UUID(sandbox_id), PORT)
        except PortUnavailable:
            assert time.monotonic() < deadline, "the app in the sandbox did not start"
            await asyncio.sleep(0.05)
            continue
        sock.close()
        return


@pytest.fixture
async def box(world) -> dict:
    sandbox = await world.running_sandbox(
        exposedPorts=[
            {"name": "web", "port": PORT},
            {"name": "idle", "port": IDLE_PORT},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ],
        # The app is written into the workspace once the sandbox runs.
        startupCommand=[
            "sh",
            "-c",
            "until [ -f app.py ]; do sleep 0.05; done; exec python3 app.py",
        ],
    )
    written = await world.client.put(
        f"/v1/sandboxes/{sandbox['id']}/files/content",
        params={"path": "app.py"},
        content=APP.encode(),
    )
    assert written.status_code == 204, written.text
    await _listening(world, sandbox["id"])
    return sandbox


def _proxy(sandbox: dict, port: int = PORT) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/ports/{port}/proxy"


def _preview_host(world, sandbox: dict, port: int = PORT) -> str:
    origin = preview_origin(world.app.state.services.settings, uuid.UUID(sandbox["id"]), port)
    return urlsplit(origin).netloc


async def _link(world, sandbox: dict, port: int = PORT, **fields) -> dict:
    return await world.post(
        f"/v1/sandboxes/{sandbox['id']}/preview-links", {"port": port, **fields}
    )


async def _cookie_for(world, link: dict) -> str:
    """Open the link as a browser would; return the cookie it set."""
    parts = urlsplit(link["url"])
    response = await world.client.get(
        f"{parts.path}?{parts.query}&next=/echo", headers={"Host": parts.netloc}
    )
    assert response.status_code == 303, response.text
    return response.cookies["mbox_preview"]


async def _preview_get(world, sandbox: dict, path: str, cookie: str | None, **headers):
    if cookie is not None:
        headers["Cookie"] = f"mbox_preview={cookie}"
    return await world.client.get(path, headers={"Host": _preview_host(world, sandbox), **headers})


def _headers(echo: dict) -> dict[str, str]:
    return dict(echo["headers"])


# -- the API-origin route -------------------------------------------------------------------


async def test_http_relay_on_the_api_origin(world, box):
    response = await world.client.get(
        f"{_proxy(box)}/echo?a=1&b=two%20words&a=2",
        headers={
            "Authorization": "Bearer caller-secret",
            "Cookie": "mbox_session=console-secret; theme=dark; mbox_preview=link-secret",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "dropped",
        },
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert (echo["method"], echo["target"]) == ("GET", "/echo?a=1&b=two%20words&a=2")
    seen = _headers(echo)
    assert seen["host"] == f"localhost:{PORT}"
    assert "authorization" not in seen and "x-hop" not in seen
    assert seen["cookie"] == "theme=dark"
    assert seen["x-custom"] == "kept"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == "mbox"
    assert seen["x-forwarded-prefix"] == _proxy(box)
    # A page served on the API origin runs in an opaque origin and sets no cookie there.
    assert response.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in response.headers["content-security-policy"]
    assert "set-cookie" not in response.headers
    assert response.headers["x-app"] == "echo"


async def test_bodies_and_methods_are_relayed(world, box):
    posted = await world.client.post(f"{_proxy(box)}/submit", content=b"hello=world")
    assert posted.json()["method"] == "POST"
    assert posted.json()["body"] == "hello=world"

    async def chunks():
        for part in (b"one,", b"two,", b"three"):
            yield part

    streamed = await world.client.put(f"{_proxy(box)}/upload", content=chunks())
    assert (streamed.json()["method"], streamed.json()["body"]) == ("PUT", "one,two,three")
    deleted = await world.client.delete(f"{_proxy(box)}/thing/1")
    assert (deleted.json()["method"], deleted.json()["target"]) == ("DELETE", "/thing/1")
    head = await world.client.head(f"{_proxy(box)}/echo")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0  # the app's answer to HEAD, passed on
    missing = await world.client.head(f"/v1/sandboxes/{box['id']}/ports/9999/proxy/")
    assert missing.status_code == 404
    after = await world.client.get(f"{_proxy(box)}/after-head")  # the connection is still good
    assert after.json()["target"] == "/after-head"


async def test_upstream_connections_are_kept_alive(world, box):
    first = (await world.client.get(f"{_proxy(box)}/one")).json()["peer"]
    second = (await world.client.get(f"{_proxy(box)}/two")).json()["peer"]
    assert first == second


async def test_proxy_without_slash_redirects(world, box):
    response = await world.client.get(f"{_proxy(box)}?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == f"{_proxy(box)}/?x=1"


async def test_proxy_refusals(world, box):
    sandbox_id = box["id"]
    cases = {
        f"/v1/sandboxes/{sandbox_id}/ports/9999/proxy/": (
            404,
            "sandbox port is not declared or is not previewable",
        ),
        f"/v1/sandboxes/{sandbox_id}/ports/53/proxy/": (
            404,
            "sandbox port is not declared or is not previewable",
        ),
        f"/v1/sandboxes/{sandbox_id}/ports/abc/proxy/": (400, "invalid sandbox port"),
        f"/v1/sandboxes/{sandbox_id}/ports/0/proxy/": (400, "invalid sandbox port"),
        f"/v1/sandboxes/{sandbox_id}/ports/65536/proxy/": (400, "invalid sandbox port"),
        f"/v1/sandboxes/{uuid.uuid4()}/ports/{PORT}/proxy/": (404, "resource not found"),
        f"/v1/sandboxes/nope/ports/{PORT}/proxy/": (400, "invalid sandbox id"),
        f"/v1/sandboxes/{sandbox_id}/ports/{IDLE_PORT}/proxy/": (
            502,
            f"nothing is listening on port {IDLE_PORT} in the sandbox",
        ),
    }
    for path, (status, message) in cases.items():
        response = await world.client.get(path)
        assert (response.status_code, response.json()) == (status, {"error": message}), path

    await world.post(f"/v1/sandboxes/{sandbox_id}/stop")
    stopped = await world.client.get(f"{_proxy(box)}/echo")
    assert stopped.status_code == 409
    assert stopped.json() == {"error": "sandbox must be running before opening preview"}


async def test_the_proxy_needs_the_bearer_token(world, box, database):
    secured = world.app.state.services.settings.model_copy(update={"api_token": TOKEN})
    app = create_api(services=build_services(secured, database, world.runtime))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mbox") as client:
        refused = await client.get(f"{_proxy(box)}/echo")
        assert refused.status_code == 401
        assert refused.json() == {"error": "missing or invalid bearer token"}
        allowed = await client.get(
            f"{_proxy(box)}/echo", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert allowed.status_code == 200
        assert "authorization" not in _headers(allowed.json())


async def test_large_streamed_response_arrives_intact(world, box, served):
    async with (
        httpx.AsyncClient(base_url=served) as client,
        client.stream("GET", f"{_proxy(box)}/big") as response,
    ):
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not buffered
        digest, size = hashlib.sha256(), 0
        async for chunk in response.aiter_raw():
            digest.update(chunk)
            size += len(chunk)
    assert size == 32768 * 32
    assert digest.hexdigest() == BIG_SHA256


async def test_an_app_dying_mid_response_truncates_it(world, box, served):
    async with httpx.AsyncClient(base_url=served) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{_proxy(box)}/die")
        # The relay and its pool survive: the next request works.
        assert (await client.get(f"{_proxy(box)}/echo")).status_code == 200


async def _websocket_echo(ws) -> None:
    assert ws.subprotocol == "vite-hmr"
    await ws.send("hello")
    assert await ws.recv() == "hello"
    await ws.send(b"\x00\x01binary\xff")
    assert await ws.recv() == b"\x00\x01binary\xff"
    await ws.send("headers")
    seen = json.loads(await ws.recv())
    assert seen["host"] == f"localhost:{PORT}"
    assert "authorization" not in seen
    assert "mbox_" not in seen.get("cookie", "")
    await ws.send("close:4001")
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4001


async def test_websocket_on_the_api_origin(world, box, served):
    url = served.replace("http://", "ws://") + f"{_proxy(box)}/ws?token=abc"
    async with connect(
        url,
        subprotocols=["vite-hmr"],
        additional_headers={"Authorization": "Bearer x", "Cookie": "mbox_session=s; a=b"},
    ) as ws:
        await _websocket_echo(ws)


async def test_websocket_on_the_preview_origin(world, box, served):
    host = _preview_host(world, box)
    address = urlsplit(served)
    cookie = await _cookie_for(world, await _link(world, box))
    options = {"host": address.hostname, "port": address.port, "subprotocols": ["vite-hmr"]}
    async with connect(
        f"ws://{host}/ws", additional_headers={"Cookie": f"mbox_preview={cookie}"}, **options
    ) as ws:
        await _websocket_echo(ws)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{host}/ws", **options):
            pass
    assert refused.value.response.status_code == 401


# -- preview origins and links ------------------------------------------------------------


async def test_preview_origin_with_a_link(world, box):
    link = await _link(world, box, label="review")
    assert link["url"].startswith(
        preview_origin(world.app.state.services.settings, uuid.UUID(box["id"]), PORT)
    )
    parts = urlsplit(link["url"])
    host = parts.netloc
    opened = await world.client.get(
        f"{parts.path}?{parts.query}&next=/echo?x=1", headers={"Host": host}
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == "/echo?x=1"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"mbox_preview={parts.query.removeprefix('token=')};")
    assert "HttpOnly" in cookie and "Path=/" in cookie
    # preview.localhost is a secure context: partitioned, so the console can embed it
    assert "SameSite=None; Secure; Partitioned" in cookie
    assert "Domain" not in cookie
    assert 3500 < int(cookie.split("Max-Age=")[1].split(";")[0]) <= 3600
    token = opened.cookies["mbox_preview"]
    posted = await world.client.post(f"{parts.path}?{parts.query}", headers={"Host": host})
    assert posted.status_code == 405 and "set-cookie" not in posted.headers

    response = await world.client.get(
        "/echo?x=1",
        headers={
            "Host": host,
            "Cookie": f"theme=dark; mbox_preview={token}; mbox_session=console",
            "Authorization": "Bearer caller-secret",
        },
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["target"] == "/echo?x=1"
    seen = _headers(echo)
    assert seen["cookie"] == "theme=dark"
    assert "authorization" not in seen
    assert seen["host"] == f"localhost:{PORT}"
    assert seen["x-forwarded-host"] == host
    # Its own origin: no sandboxing CSP, the app's cookies are its own.
    assert "content-security-policy" not in response.headers
    assert response.headers["set-cookie"] == "app=1; Path=/"

    # API paths on a preview origin are the app's, never mbox's.
    api_path = await world.client.get(
        "/v1/projects", headers={"Host": host, "Cookie": f"mbox_preview={token}"}
    )
    assert api_path.json()["target"] == "/v1/projects"

    bad_next = await world.client.get(
        f"{parts.path}?{parts.query}&next=//evil.example/x", headers={"Host": host}
    )
    assert bad_next.headers["location"] == "/"


async def test_preview_origin_refuses_without_a_valid_cookie(world, box):
    missing = await _preview_get(world, box, "/echo", None)
    assert missing.status_code == 401
    assert missing.json() == {"error": "preview link is missing, expired or revoked"}
    page = await _preview_get(world, box, "/", None, Accept="text/html")
    assert page.status_code == 401 and "Preview unavailable" in page.text
    assert (await _preview_get(world, box, "/", "garbage")).status_code == 401
    link = await _link(world, box)
    forged = link["url"].split("token=")[1][:-4] + "AAAA"
    assert (await _preview_get(world, box, "/", forged)).status_code == 401
    # A link for another port of the sandbox does not open this one.
    other = await _cookie_for(world, await _link(world, box, port=IDLE_PORT))
    assert (await _preview_get(world, box, "/", other)).status_code == 401
    # Nor does the link exchange on the wrong origin.
    wrong = urlsplit(link["url"])
    exchanged = await world.client.get(
        f"{wrong.path}?{wrong.query}", headers={"Host": _preview_host(world, box, IDLE_PORT)}
    )
    assert exchanged.status_code == 401
    # An unknown preview host is not served by the console either.
    unknown = await world.client.get("/", headers={"Host": "nope.preview.localhost:3000"})
    assert unknown.status_code == 404


async def _refused_within(world, box, cookie: str, seconds: float = 6.0) -> float:
    started = time.monotonic()
    while (await _preview_get(world, box, "/echo", cookie)).status_code == 200:
        assert time.monotonic() - started < seconds, "the link still works"
        await asyncio.sleep(0.1)
    response = await _preview_get(world, box, "/echo", cookie)
    assert response.status_code == 401
    return time.monotonic() - started


async def test_an_expired_link_stops_working(world, box):
    link = await _link(world, box, expiresInSeconds=60)
    cookie = await _cookie_for(world, link)
    assert (await _preview_get(world, box, "/echo", cookie)).status_code == 200
    with world.app.state.services.database.session() as db:
        row = db.get(PreviewLinkRow, uuid.UUID(link["id"]))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.add(row)
        db.commit()
    await _refused_within(world, box, cookie)
    parts = urlsplit(link["url"])
    again = await world.client.get(f"{parts.path}?{parts.query}", headers={"Host": parts.netloc})
    assert again.status_code == 401


async def test_a_revoked_link_stops_working(world, box):
    link = await _link(world, box)
    cookie = await _cookie_for(world, link)
    assert (await _preview_get(world, box, "/echo", cookie)).status_code == 200
    revoked = await world.post(f"/v1/preview-links/{link['id']}/revoke")
    assert revoked["revokedAt"]
    await _refused_within(world, box, cookie)
    again = await world.post(f"/v1/preview-links/{link['id']}/revoke")
    assert again["revokedAt"] == revoked["revokedAt"]
    actions = [
        e["action"] for e in (await world.get("/v1/audit-events", resourceId=link["id"]))["items"]
    ]
    assert actions == ["preview.link.revoked", "preview.link.created"]


async def test_preview_origin_of_a_stopped_sandbox(world, box):
    cookie = await _cookie_for(world, await _link(world, box))
    await world.post(f"/v1/sandboxes/{box['id']}/stop")
    response = await _preview_get(world, box, "/echo", cookie)
    assert response.status_code == 409
    assert response.json() == {"error": "sandbox must be running before opening preview"}


async def test_preview_traffic_is_activity(world, box):
    database = world.app.state.services.database
    old = utcnow() - timedelta(hours=1)
    with database.session() as db:
        row = db.get(SandboxRow, uuid.UUID(box["id"]))
        row.last_activity_at = old
        db.add(row)
        db.commit()
    cookie = await _cookie_for(world, await _link(world, box))
    assert (await _preview_get(world, box, "/echo", cookie)).status_code == 200
    deadline = time.monotonic() + 5
    while True:
        with database.session() as db:
            seen = db.get(SandboxRow, uuid.UUID(box["id"])).last_activity_at
        if seen > old + timedelta(minutes=30):
            break
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.05)


async def test_ports_name_their_preview_origin(world, box):
    ports = await world.get(f"/v1/sandboxes/{box['id']}/ports")
    by_port = {item["port"]: item for item in ports["items"]}
    hex_id = uuid.UUID(box["id"]).hex
    assert by_port[PORT]["previewOrigin"] == f"http://{PORT}-{hex_id}.preview.localhost:3000"
    assert by_port[PORT]["previewUrl"] == f"{_proxy(box)}/"
    assert by_port[PORT]["available"] is True
    assert "previewOrigin" not in by_port[53]


# -- viewer grants (the console's Open and Embed) and listening ports ----------------------


async def test_a_viewer_grant_opens_the_app_without_a_link(world, box):
    """With authentication off (no sign-in to bind to): the code opens the app once, its
    view cookie never reaches the app, and no link is made or listed."""
    services = world.app.state.services
    with services.database.session() as db:
        url = preview_grants.mint_code(
            db,
            principal=SYSTEM,
            settings=services.settings,
            sandbox_id=uuid.UUID(box["id"]),
            port=PORT,
            sign_in=None,
        )
    parts = urlsplit(url)
    assert parts.path == "/.mbox/open"
    opened = await world.client.get(
        f"{parts.path}?{parts.query}&next=/echo", headers={"Host": parts.netloc}
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/echo"
    cookie = opened.cookies["mbox_preview"]
    response = await _preview_get(world, box, "/echo", cookie)
    assert response.status_code == 200
    assert "cookie" not in _headers(response.json())
    again = await world.client.get(f"{parts.path}?{parts.query}", headers={"Host": parts.netloc})
    assert again.status_code == 401
    links = await world.get(f"/v1/sandboxes/{box['id']}/preview-links")
    assert links["items"] == []


async def test_listening_ports_are_read_from_the_sandbox(world, box):
    """The app listens on PORT; IDLE_PORT is declared but nothing listens there."""
    found = await previews.listening_ports(world.runtime, uuid.UUID(box["id"]))
    assert PORT in found and IDLE_PORT not in found
    assert await previews.listening_ports(world.runtime, uuid.uuid4()) == frozenset()


async def test_a_flooding_command_is_read_only_up_to_the_cap(world, box):
    """A command that never stops writing (an image may replace /bin/sh) is read up to
    the cap, then killed: the server never buffers more, nor waits on it."""
    flood = await world.runtime.exec(uuid.UUID(box["id"]), ["sh", "-c", "yes"])
    async with asyncio.timeout(60):  # a flood runs forever: bounded only by the cap
        assert await read_at_most(flood, 64 * 1024) is None
        await flood.wait()
    left = await world.runtime.exec(uuid.UUID(box["id"]), ["sh", "-c", "ps -eo args"])
    assert b"yes" not in b"".join([chunk async for chunk in left.stdout()])  # killed, not left


async def test_listening_ports_refuses_a_flood(world, box, monkeypatch):
    """The cap ends it, not the time limit: with the limit out of the way, a flood still
    gets its answer (none) in bounded time."""
    monkeypatch.setattr(previews.sandbox_files, "LISTENING", "yes 0000000000")
    monkeypatch.setattr(previews, "LISTENING_TIMEOUT", 600.0)
    async with asyncio.timeout(60):
        assert await previews.listening_ports(world.runtime, uuid.UUID(box["id"])) == frozenset()
