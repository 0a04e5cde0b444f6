"""With MBOX_API_TOKEN set, console pages and the console's state socket need a sign-in
cookie, obtained by proving the token on /login."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.api.app import create_api
from backend.auth.service import (
    SIGN_IN_COOKIE,
    issue_sign_in,
    sign_in_from_cookie,
    sign_in_valid,
)
from backend.runtime import create_runtime
from backend.services import build_services
from tests.api.conftest import TOKEN


async def fake_console(scope, receive, send):
    """Stands in for Reflex: a page and the /_event socket."""
    if scope["type"] == "websocket":
        socket = WebSocket(scope, receive, send)
        await socket.accept()
        await socket.send_text("state")
        await socket.close()
        return
    await PlainTextResponse("console page")(scope, receive, send)


@pytest.fixture
def console(settings, database):
    secured = settings.model_copy(update={"api_token": TOKEN})
    runtime = create_runtime(secured)
    return TestClient(create_api(fake_console, services=build_services(secured, database, runtime)))


def test_pages_redirect_to_sign_in(console):
    response = console.get("/projects?tab=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/projects%3Ftab%3D1"
    assert "API token" in console.get("/login").text


def test_state_socket_refused_without_sign_in(console):
    with pytest.raises(WebSocketDisconnect) as closed, console.websocket_connect("/_event"):
        pass
    assert closed.value.code == 4401


def test_sign_in_sets_a_safe_cookie_and_opens_the_console(console):
    wrong = console.post("/login", data={"token": "nope", "next": "/x"}, follow_redirects=False)
    assert wrong.headers["location"].startswith("/login?error=1")
    assert SIGN_IN_COOKIE not in wrong.cookies
    right = console.post(
        "/login", data={"token": TOKEN, "next": "/projects"}, follow_redirects=False
    )
    assert right.status_code == 303 and right.headers["location"] == "/projects"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert console.get("/projects").text == "console page"
    with console.websocket_connect("/_event") as socket:
        assert socket.receive_text() == "state"
    console.post("/logout")
    assert console.get("/projects", follow_redirects=False).status_code == 303
    console.cookies.set(SIGN_IN_COOKIE, right.cookies[SIGN_IN_COOKIE])  # signed out: revoked
    assert console.get("/projects", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_site(console):
    for target in ("https://evil.example/", "//evil.example", "/\\evil"):
        response = console.post(
            "/login", data={"token": TOKEN, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_sign_in_cookie_is_signed_and_expires(settings):
    secured = settings.model_copy(update={"api_token": TOKEN})
    cookie = issue_sign_in(secured, now=1_000_000)
    assert sign_in_valid(secured, cookie, now=1_000_100)
    assert not sign_in_valid(secured, cookie, now=1_000_000 + 13 * 3600)
    assert not sign_in_valid(secured, cookie.replace("v3.1", "v3.2"), now=1_000_100)
    forged_subject = cookie.replace("token:shared", "token:admin")
    assert not sign_in_valid(secured, forged_subject, now=1_000_100)
    sign_in = sign_in_from_cookie(secured, cookie, now=1_000_100)
    assert sign_in is not None and sign_in.subject == "token:shared"
    assert sign_in.expires_at == 1_000_000 + 12 * 3600
    rotated = settings.model_copy(update={"api_token": "another"})
    assert not sign_in_valid(rotated, cookie, now=1_000_100)


def test_console_is_open_without_a_token(client):
    response = client.get("/login", follow_redirects=False)  # nothing to sign in to
    assert response.status_code == 303 and response.headers["location"] == "/"
