"""Attacks on the console's sign-in: guessing the token, flooding /login with a body, and
reusing a sign-in cookie after its owner signed out. Real HTTP (uvicorn) on loopback."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.responses import PlainTextResponse

from backend.api.app import create_api
from backend.api.console_auth import SignInLimiter
from backend.auth.service import (
    SECURE_SIGN_IN_COOKIE,
    SHARED_TOKEN_SUBJECT,
    SIGN_IN_COOKIE,
    SignIn,
    revoke_sign_in,
    sign_in_revoked,
)
from backend.services import build_services
from tests.api.conftest import TOKEN
from tests.runtime.conftest import serving


async def console_page(scope, receive, send):
    """Stands in for Reflex's console pages."""
    await PlainTextResponse("console page")(scope, receive, send)


@pytest.fixture
async def base(settings, database, runtime) -> AsyncIterator[str]:
    secured = settings.model_copy(update={"api_token": TOKEN})
    app = create_api(console_page, services=build_services(secured, database, runtime))
    async with serving(app) as url:
        yield url


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    return await client.post("/login", data={"token": token, "next": "/projects"})


async def test_guessing_the_token_is_rate_limited(base):
    """Attack: try token after token on /login from one address. Stopped by: 10 failures
    a minute per client address; then every attempt (even the right token) is a 429 JSON
    with Retry-After until the window passes."""
    async with httpx.AsyncClient(base_url=base) as client:
        for attempt in range(10):
            wrong = await sign_in(client, f"guess-{attempt}")
            assert wrong.status_code == 303 and "error=1" in wrong.headers["location"]
        limited = await sign_in(client, "guess-11")
        assert limited.status_code == 429
        assert limited.json() == {"error": "too many failed sign-in attempts; try again later"}
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert (await sign_in(client)).status_code == 429
        assert SIGN_IN_COOKIE not in client.cookies


async def test_login_stops_reading_an_oversized_body(base):
    """Attack: announce a 1 GiB sign-in form and trickle it in, holding a worker and its
    memory. Stopped by: /login reads at most 8 KiB; a larger declared or streamed body is
    a 413 JSON at once, without waiting for the rest."""
    parts = urlsplit(base)
    for framing in (b"Content-Length: 1073741824", b"Transfer-Encoding: chunked"):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n" + framing + b"\r\n\r\n"
        )
        chunk = b"token=" + b"a" * 16 * 1024
        try:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if b"chunked" in framing else chunk)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), timeout=5)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        finally:
            writer.close()  # a server still waiting for the body must not hang the test
        assert status_line.split()[1] == b"413", status_line
        assert b"application/json" in head.lower()


async def test_a_cookie_is_dead_after_sign_out(base):
    """Attack: a sign-in cookie copied before its owner signed out (a shared machine, a
    leaked log) keeps opening the console and the API. Stopped by: sign-out records the
    cookie's sign-in id as revoked in the database; every request with it is refused."""
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await sign_in(client)).status_code == 303
        stolen = client.cookies[SIGN_IN_COOKIE]
        own = {"Origin": base}
        assert (await client.get("/projects")).text == "console page"
        assert (await client.get("/v1/projects", headers=own)).status_code == 200
        signed_out = await client.post("/logout", headers=own)
        assert signed_out.status_code == 303
    async with httpx.AsyncClient(base_url=base, cookies={SIGN_IN_COOKIE: stolen}) as thief:
        page = await thief.get("/projects")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        api = await thief.get("/v1/projects", headers={"Origin": base})
        assert api.status_code == 401


async def test_sign_ins_behind_tls_use_host_only_secure_cookies(settings, database, runtime):
    """Attack: a sign-in cookie sent over plain HTTP, or planted for the whole domain by a
    sibling subdomain. Stopped by: with MBOX_SECURE_COOKIES (a TLS proxy) the cookie is
    `__Host-mbox_session`, Secure, Path=/ and has no Domain; a plain-named cookie is
    ignored."""
    secured = settings.model_copy(update={"api_token": TOKEN, "secure_cookies": True})
    app = create_api(console_page, services=build_services(secured, database, runtime))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        signed_in = await sign_in(client)
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{SECURE_SIGN_IN_COOKIE}=")
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        planted = {"Cookie": f"{SIGN_IN_COOKIE}={value}"}
        refused = await client.get("/projects", headers=planted)
        assert refused.status_code == 303
        own = {"Cookie": f"{SECURE_SIGN_IN_COOKIE}={value}"}
        accepted = await client.get("/projects", headers=own)
        assert accepted.text == "console page"


async def test_many_client_addresses_cannot_grow_the_limiter_without_bound(
    settings, database, runtime
):
    """Attack: fail a sign-in once from each of very many client addresses (an IPv6
    range, or X-Forwarded-For spoofed through a trusted local proxy, as here) so that the
    limiter's per-address memory grows until the server runs out. Stopped by: the limiter
    remembers at most MAX_ADDRESSES addresses and forgets the least recently failing."""
    secured = settings.model_copy(update={"api_token": TOKEN})
    app = create_api(console_page, services=build_services(secured, database, runtime))
    limiter = app.state.sign_in_limiter
    limiter.MAX_ADDRESSES = 50
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        for n in range(200):
            spoofed = {"X-Forwarded-For": f"10.0.{n // 256}.{n % 256}"}
            wrong = await client.post("/login", data={"token": "guess"}, headers=spoofed)
            assert wrong.status_code == 303
        assert len(limiter) <= 50
        for _ in range(10):  # the limit itself still holds per address
            await client.post("/login", data={"token": "guess"}, headers={"X-Forwarded-For": "::1"})
        refused = await client.post(
            "/login", data={"token": TOKEN}, headers={"X-Forwarded-For": "::1"}
        )
        assert refused.status_code == 429


async def test_sign_out_drops_revocations_of_expired_sign_ins(database):
    """Attack: sign in and out over and over so the revocation table grows without end.
    Stopped by: each sign-out deletes revocations whose cookie has expired anyway (its
    signature check refuses it; 12 h at most), so the table holds only live sign-ins."""
    now = time.time()
    expired = SignIn(uuid.uuid4(), SHARED_TOKEN_SUBJECT, expires_at=now - 1)
    live = SignIn(uuid.uuid4(), SHARED_TOKEN_SUBJECT, expires_at=now + 3600)
    await database.call(revoke_sign_in, sign_in=expired)
    assert await database.call(sign_in_revoked, expired.sign_in_id)
    await database.call(revoke_sign_in, sign_in=live)
    assert not await database.call(sign_in_revoked, expired.sign_in_id)
    assert await database.call(sign_in_revoked, live.sign_in_id)


async def test_rotating_ipv6_addresses_does_not_reset_the_limit(base):
    """Attack: guess the token from a fresh IPv6 address each time (one host routinely
    holds a whole /64, 2**64 addresses), so no address ever reaches the limit. Stopped by:
    the limiter counts an IPv6 client by its /64 network."""
    async with httpx.AsyncClient(base_url=base) as client:
        for n in range(10):
            rotated = {"X-Forwarded-For": f"2001:db8:1:2::{n + 1:x}"}
            wrong = await client.post("/login", data={"token": "guess"}, headers=rotated)
            assert wrong.status_code == 303
        fresh = {"X-Forwarded-For": "2001:db8:1:2:ffff::1"}
        assert (
            await client.post("/login", data={"token": TOKEN}, headers=fresh)
        ).status_code == 429
        other = {"X-Forwarded-For": "2001:db8:1:3::1"}
        assert (
            await client.post("/login", data={"token": TOKEN}, headers=other)
        ).status_code == 303


def test_ipv4_clients_on_a_dual_stack_socket_are_counted_one_by_one():
    """Attack: on a dual-stack listener IPv4 clients arrive as ::ffff:a.b.c.d, all in one
    IPv6 /64; ten failures from one of them would lock every IPv4 user out. Stopped by:
    an IPv4-mapped address counts as its IPv4 address."""
    limiter = SignInLimiter()
    for _ in range(10):
        limiter.failed("::ffff:10.0.0.1")
    assert limiter.retry_after("10.0.0.1") > 0
    assert limiter.retry_after("::ffff:10.0.0.2") == 0
