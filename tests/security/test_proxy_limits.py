"""Attacks on the preview relay's shared resources: one sandbox holding upstream
connections open (an app that never answers, or stops mid-body) so that the relay's pool
and workers are spent and every other sandbox's preview waits forever.

Stopped by: a per-sandbox cap on concurrent upstream connections (HTTP and WebSocket;
over it, 503 JSON at once), and an idle timeout between upstream reads (a stalled app
gets 504 before its headers, a truncated response after), while a response that keeps
streaming, and a quiet WebSocket, live as long as they need."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from backend.runtime.base import PortUnavailable
from tests.runtime.test_preview import APP as ECHO_APP

PORT, ECHO_PORT = 8000, 8001
LIMIT = 4
IDLE = 1.5

# The sandbox's own web app (stdlib only): /stall reads the request and never answers,
# /drip sends its headers and one chunk then stalls, /slow streams a chunk every 0.4 s
# for 3.2 s, /evil answers with headers meant for the console's origin; anything else
# is "ok".
APP = r"""
import asyncio

EVIL = (
    b"Set-Cookie: mbox_session=planted; Path=/\r\n"
    b"Clear-Site-Data: \"cookies\", \"storage\", \"executionContexts\"\r\n"
    b"Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n"
    b"Content-Security-Policy: script-src *\r\n"
    b"Content-Security-Policy-Report-Only: default-src *\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"Access-Control-Allow-Credentials: true\r\n"
    b"Access-Control-Expose-Headers: *\r\n"
    b"Service-Worker-Allowed: /\r\n"
    b"Refresh: 0; url=https://attacker.invalid/\r\n"
    b"Link: <https://attacker.invalid/x.js>; rel=preload; as=script\r\n"
    b"NEL: {\"report_to\": \"a\", \"max_age\": 86400}\r\n"
    b"Report-To: {\"group\": \"a\", \"max_age\": 86400, \"endpoints\": [{\"url\": \"https://attacker.invalid/\"}]}\r\n"
    b"Reporting-Endpoints: a=\"https://attacker.invalid/\"\r\n"
    b"Alt-Svc: h2=\"attacker.invalid:443\"; ma=86400\r\n"
    b"WWW-Authenticate: Basic realm=\"mbox console\"\r\n"
    b"Set-Login: logged-out\r\n"
    b"Accept-CH: Sec-CH-UA-Full-Version-List\r\n"
    b"Origin-Agent-Cluster: ?0\r\n"
    b"Secure-Session-Registration: (ES256);path=\"/reg\";challenge=\"c\"\r\n"
    b"Sec-Session-Registration: (ES256);path=\"/reg\";challenge=\"c\"\r\n"
    b"Shared-Storage-Write: set;key=a;value=b\r\n"
    b"Attribution-Reporting-Register-Source: {\"destination\": \"https://attacker.invalid\"}\r\n"
    b"Ad-Auction-Signals: [{\"adSlot\": \"a\"}]\r\n"
    b"Observe-Browsing-Topics: ?1\r\n"
    b"Activate-Storage-Access: retry; allowed-origin=*\r\n"
    b"X-App: evil\r\n"
)


async def handle(reader, writer):
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            path = head.split(" ", 2)[1].split("?")[0]
            if path == "/stall":
                await asyncio.sleep(3600)
            elif path == "/drip":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfirs\r\n")
                await writer.drain()
                await asyncio.sleep(3600)
            elif path == "/slow":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(8):
                    await asyncio.sleep(0.4)
                    writer.write(b"2\r\n%02d\r\n" % i)
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            elif path == "/evil":
                writer.write(b"HTTP/1.1 200 OK\r\n" + EVIL + b"Content-Length: 4\r\n\r\nevil")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
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


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """The relay does not depend on the database: SQLite only."""
    import shutil

    target = tmp_path / "mbox.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"preview_max_connections_per_sandbox": LIMIT, "preview_idle_timeout_seconds": IDLE}
    )


async def start_apps(world) -> dict:
    """A running sandbox serving APP on PORT and the preview suite's echo app (HTTP and
    WebSocket) on ECHO_PORT."""
    sandbox = await world.running_sandbox(
        exposedPorts=[{"name": "web", "port": PORT}, {"name": "echo", "port": ECHO_PORT}],
        startupCommand=[
            "sh",
            "-c",
            "until [ -f echo.py ]; do sleep 0.05; done; python3 app.py & exec python3 echo.py",
        ],
    )
    files = f"/v1/sandboxes/{sandbox['id']}/files/content"
    for name, source in (("app.py", APP), ("echo.py", ECHO_APP.replace("8000", "8001"))):
        written = await world.client.put(files, params={"path": name}, content=source.encode())
        assert written.status_code == 204, written.text
    for port in (PORT, ECHO_PORT):
        deadline = time.monotonic() + 15
        while True:
            try:
                (await world.runtime.connect_port(uuid.UUID(sandbox["id"]), port)).close()
                break
            except PortUnavailable:
                assert time.monotonic() < deadline, "the app in the sandbox did not start"
                await asyncio.sleep(0.05)
    return sandbox


def proxy(sandbox: dict, port: int = PORT) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/ports/{port}/proxy"


async def test_one_sandbox_cannot_starve_another(world, served):
    """Sandbox A's app never answers; a client opens as many previews of A as the relay
    lets it. Then A's next preview (HTTP or WebSocket) is refused at once with 503, B's
    preview answers at once, and A's stalled requests end (504) after the idle timeout,
    which frees A's connections."""
    a, b = await start_apps(world), await start_apps(world)
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        stalled = [asyncio.create_task(client.get(f"{proxy(a)}/stall")) for _ in range(LIMIT)]
        await asyncio.sleep(0.5)  # every stalled request is waiting on A's app
        assert not any(task.done() for task in stalled)

        started = time.monotonic()
        refused = await client.get(f"{proxy(a)}/")
        assert refused.status_code == 503, refused.text
        assert "connections" in refused.json()["error"]
        with pytest.raises(InvalidStatus) as ws_refused:
            async with connect(served.replace("http", "ws") + f"{proxy(a, ECHO_PORT)}/ws"):
                pass
        assert ws_refused.value.response.status_code == 503
        other = await client.get(f"{proxy(b)}/")
        assert (other.status_code, other.text) == (200, "ok")
        assert time.monotonic() - started < 1.0

        done = await asyncio.wait_for(asyncio.gather(*stalled), IDLE + 5)
        assert time.monotonic() - started < IDLE + 2
        assert {response.status_code for response in done} == {504}
        assert "did not answer" in done[0].json()["error"]
        again = await client.get(f"{proxy(a)}/")
        assert (again.status_code, again.text) == (200, "ok")
    assert world.app.state.previews.relay.held(uuid.UUID(a["id"])) == 0


async def test_an_app_stalling_mid_body_is_cut_after_the_idle_timeout(world, served):
    """Headers and a first chunk, then nothing: the client gets a truncated response once
    the idle timeout passes, not a worker held forever."""
    box = await start_apps(world)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("GET", f"{proxy(box)}/drip") as response:
                assert response.status_code == 200
                async for _ in response.aiter_raw():
                    pass
    assert time.monotonic() - started < IDLE + 3
    assert world.app.state.previews.relay.held(uuid.UUID(box["id"])) == 0


async def test_streams_and_quiet_websockets_outlive_the_idle_timeout(world, served):
    """The timeout is between reads, not a total: a response that keeps streaming for
    twice the idle timeout arrives whole, and a WebSocket quiet for longer than it still
    works (WebSockets have no idle timeout)."""
    box = await start_apps(world)
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        started = time.monotonic()
        slow = await client.get(f"{proxy(box)}/slow")
        assert slow.status_code == 200
        assert slow.text == "".join(f"{i:02d}" for i in range(8))
        assert time.monotonic() - started > IDLE
    async with connect(served.replace("http", "ws") + f"{proxy(box, ECHO_PORT)}/ws") as ws:
        await asyncio.sleep(IDLE + 1)
        await ws.send("still here")
        assert await ws.recv() == "still here"
        await ws.send("headers")
        assert json.loads(await ws.recv())["host"] == f"localhost:{ECHO_PORT}"
