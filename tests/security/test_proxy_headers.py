"""Attacks through the preview relay's headers.

Responses: an app previewed on the API origin (`/v1/sandboxes/{id}/ports/{port}/proxy`)
shares that origin with the console. Its headers could wipe the console's storage
(Clear-Site-Data), pin it to HTTPS (HSTS), plant or read cookies, widen CORS, register
origin-wide policies (NEL, Report-To, Alt-Svc), prompt for credentials in the console's
name (WWW-Authenticate), preload and redirect (Link, Refresh), or register per-origin
browser state (a bound session that defers the console's requests, shared storage,
attribution sources, topics, storage access). Stopped by: the relay
drops every header that acts on the origin rather than on the response, and keeps only
its own sandboxing CSP.

Requests: a client's X-Forwarded-For / Forwarded / X-Real-IP / X-Forwarded-* would reach
the app as if the relay had vouched for them (an app trusting its proxy would log or
allow a spoofed address). Stopped by: the relay drops them all and sets its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect

from backend.api.previews import API_ORIGIN_CSP
from tests.runtime.conftest import serving
from tests.runtime.test_preview import _cookie_for, _link, _preview_host
from tests.security.test_proxy_limits import ECHO_PORT, database_url, proxy, start_apps

__all__ = ["database_url"]

ORIGIN_WIDE = [
    "set-cookie",
    "clear-site-data",
    "strict-transport-security",
    "content-security-policy-report-only",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "service-worker-allowed",
    "refresh",
    "link",
    "nel",
    "report-to",
    "reporting-endpoints",
    "alt-svc",
    "www-authenticate",
    "set-login",
    "accept-ch",
    "origin-agent-cluster",
    "secure-session-registration",
    "sec-session-registration",
    "shared-storage-write",
    "attribution-reporting-register-source",
    "ad-auction-signals",
    "observe-browsing-topics",
    "activate-storage-access",
]
SPOOFED = {
    "X-Forwarded-For": "6.6.6.6",
    "Forwarded": "for=6.6.6.6;host=evil.invalid;proto=https",
    "X-Real-IP": "6.6.6.6",
    "X-Forwarded-Host": "evil.invalid",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Port": "6666",
    "X-Forwarded-Server": "evil.invalid",
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Prefix": "/evil",
    "True-Client-IP": "6.6.6.6",
    "X-Client-IP": "6.6.6.6",
    "X-Cluster-Client-IP": "6.6.6.6",
    "CF-Connecting-IP": "6.6.6.6",
}


@pytest.fixture
async def box(world) -> dict:
    return await start_apps(world)


@pytest.fixture
async def direct(world) -> AsyncIterator[str]:
    """The app behind a real server that, unlike uvicorn's default, trusts no client's
    forwarding headers (by default it believes any loopback peer is a proxy): the relay
    itself is what is tested here."""
    async with serving(world.app, proxy_headers=False) as base_url:
        yield base_url


async def test_origin_wide_response_headers_are_dropped_on_the_api_origin(world, box):
    response = await world.client.get(f"{proxy(box)}/evil")
    assert response.status_code == 200, response.text
    assert response.text == "evil"
    for name in ORIGIN_WIDE:
        assert name not in response.headers, name
    # The app's CSP is gone; the relay's sandbox is the only one.
    assert response.headers.get_list("content-security-policy") == [API_ORIGIN_CSP.decode()]
    assert response.headers["x-app"] == "evil"


async def test_preview_origins_keep_the_apps_headers(world, box):
    """On its own preview origin the app owns the origin: its headers pass."""
    host = _preview_host(world, box)
    cookie = await _cookie_for(world, await _link(world, box))
    response = await world.client.get(
        "/evil", headers={"Host": host, "Cookie": f"mbox_preview={cookie}"}
    )
    assert response.status_code == 200
    assert response.headers["clear-site-data"]
    assert response.headers["set-cookie"].startswith("mbox_session=planted")


def _check_forwarded(seen: dict[str, str], client_address: str) -> None:
    assert "6.6.6.6" not in json.dumps(seen), seen
    assert "evil.invalid" not in json.dumps(seen), seen
    assert seen["x-forwarded-for"] == client_address
    assert seen["x-forwarded-proto"] == "http"
    for name in (
        "forwarded",
        "x-real-ip",
        "x-forwarded-port",
        "x-forwarded-server",
        "x-forwarded-ssl",
        "true-client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "cf-connecting-ip",
    ):
        assert name not in seen, name


async def test_spoofed_forwarding_headers_never_reach_the_app(world, box, direct):
    async with httpx.AsyncClient(base_url=direct) as client:
        response = await client.get(f"{proxy(box, ECHO_PORT)}/echo", headers=SPOOFED)
    assert response.status_code == 200, response.text
    seen = dict(response.json()["headers"])
    _check_forwarded(seen, "127.0.0.1")
    assert seen["x-forwarded-prefix"] == proxy(box, ECHO_PORT)

    # The preview origin, over the same relay.
    host = _preview_host(world, box, ECHO_PORT)
    cookie = await _cookie_for(world, await _link(world, box, ECHO_PORT))
    async with httpx.AsyncClient(base_url=direct) as client:
        response = await client.get(
            "/echo", headers={**SPOOFED, "Host": host, "Cookie": f"mbox_preview={cookie}"}
        )
    assert response.status_code == 200, response.text
    seen = dict(response.json()["headers"])
    _check_forwarded(seen, "127.0.0.1")
    assert "x-forwarded-prefix" not in seen

    # And a WebSocket's handshake.
    url = direct.replace("http", "ws") + f"{proxy(box, ECHO_PORT)}/ws"
    async with connect(url, additional_headers=SPOOFED) as ws:
        await ws.send("headers")
        _check_forwarded(json.loads(await ws.recv()), "127.0.0.1")
