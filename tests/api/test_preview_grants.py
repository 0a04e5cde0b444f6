"""Viewer grants (the console's Open and Embed): single-use codes bound to one sign-in and
one sandbox port, traded on the preview origin for a view cookie; never a preview link.
Written as the attacks they refuse. (The running app behind a grant: tests/runtime/
test_preview.py; the console's buttons: tests/e2e/test_sandbox_terminal.py.)"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from backend.auth.service import (
    SHARED,
    console_principal,
    issue_sign_in,
    principal_of_sign_in,
    revoke_sign_in,
    sign_in_from_cookie,
)
from backend.errors import Forbidden, InvalidInput, Unauthorized
from backend.sandboxes import preview_grants
from backend.sandboxes.previews import preview_origin
from tests.api.conftest import TOKEN, Api, build_api

REFUSED = {"error": "preview link is missing, expired or revoked"}
NOT_RUNNING = {"error": "sandbox must be running before opening preview"}


@pytest.fixture
def secured(settings, database):
    settings = settings.model_copy(update={"api_token": TOKEN})
    app = build_api(settings, database, api_token=TOKEN)
    client = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    return settings, client


@pytest.fixture
def boxes(secured) -> tuple[dict, dict]:
    """Two sandboxes, each declaring TCP ports 8000 and 8001 (the tests start no runtime:
    a preview that is let in answers 409, not running; one that is refused 401)."""
    api = Api(secured[1])
    project = api.project()
    template = api.template(
        exposedPorts=[{"name": "web", "port": 8000}, {"name": "api", "port": 8001}]
    )
    return api.sandbox(project, template), api.sandbox(project, template)


class Viewer:
    """A console sign-in (the shared token's) that mints grants as the console does."""

    def __init__(self, settings, database) -> None:
        self.settings, self.database = settings, database
        self.sign_in = sign_in_from_cookie(settings, issue_sign_in(settings))

    def code(self, sandbox: dict, port: int = 8000, **options) -> str:
        with self.database.session() as db:
            return preview_grants.mint_code(
                db,
                principal=console_principal(SHARED),
                settings=self.settings,
                sandbox_id=uuid.UUID(sandbox["id"]),
                port=port,
                sign_in=self.sign_in,
                **options,
            )

    def sign_out(self) -> None:
        with self.database.session() as db:
            revoke_sign_in(db, sign_in=self.sign_in)


@pytest.fixture
def viewer(secured, database) -> Viewer:
    return Viewer(secured[0], database)


def _host(settings, sandbox: dict, port: int = 8000) -> str:
    return urlsplit(preview_origin(settings, uuid.UUID(sandbox["id"]), port)).netloc


def _trade(client: TestClient, url: str, host: str | None = None, **headers):
    """A browser without cookies following the grant's URL (on `host`, if another)."""
    parts = urlsplit(url)
    return client.get(
        f"{parts.path}?{parts.query}&next=/app",
        headers={"Host": host or parts.netloc, "Authorization": "", **headers},
        follow_redirects=False,
    )


def _visit(client: TestClient, host: str, cookie: str):
    headers = {"Host": host, "Cookie": f"mbox_preview={cookie}", "Authorization": ""}
    return client.get("/app", headers=headers)


def test_a_grant_opens_its_port_once_and_makes_no_link(secured, boxes, viewer):
    settings, client = secured
    box = boxes[0]
    url = viewer.code(box)
    assert url.startswith(preview_origin(settings, uuid.UUID(box["id"]), 8000) + "/.mbox/open?")
    traded = _trade(client, url)
    assert traded.status_code == 303 and traded.headers["location"] == "/app"
    cookie = traded.headers["set-cookie"]
    # Host-only (no Domain: never sent to the console or a sibling origin), script-proof,
    # short-lived.
    assert "Domain" not in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert 890 <= int(cookie.split("Max-Age=")[1].split(";")[0]) <= 900
    view = traded.cookies["mbox_preview"]
    assert _visit(client, _host(settings, box), view).json() == NOT_RUNNING
    # Nothing is listed, nothing is audited as a share.
    assert client.get(f"/v1/sandboxes/{box['id']}/preview-links").json()["items"] == []
    assert Api(client).audit(action="preview.link.created") == []

    # Attack: the code replayed (browser history, a copied frame URL) by a browser without
    # the cookie.
    again = _trade(client, url)
    assert again.status_code == 401 and again.json() == REFUSED
    assert "set-cookie" not in again.headers
    # The browser that traded it and reloads the page is just let through.
    reloaded = _trade(client, url, Cookie=f"mbox_preview={view}")
    assert reloaded.status_code == 303 and "set-cookie" not in reloaded.headers


def test_a_grant_opens_only_its_own_sandbox_port(secured, boxes, viewer):
    settings, client = secured
    box, other = boxes
    url = viewer.code(box)
    # Attack: the code traded on port 8001 of the same sandbox, or on another sandbox.
    assert _trade(client, url, _host(settings, box, 8001)).status_code == 401
    assert _trade(client, url, _host(settings, other)).status_code == 401
    view = _trade(client, url).cookies["mbox_preview"]
    # Attack: its view cookie presented to another port or sandbox.
    assert _visit(client, _host(settings, box, 8001), view).json() == REFUSED
    assert _visit(client, _host(settings, other), view).json() == REFUSED
    assert _visit(client, _host(settings, box), view).json() == NOT_RUNNING


def test_expired_forged_and_misused_codes_are_refused(secured, boxes, viewer):
    settings, client = secured
    box = boxes[0]
    expired = viewer.code(box, now=time.time() - preview_grants.CODE_SECONDS - 1)
    assert _trade(client, expired).json() == REFUSED
    url = viewer.code(box)
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert _trade(client, forged).status_code == 401
    tampered = url.replace(uuid.UUID(box["id"]).hex, uuid.UUID(boxes[1]["id"]).hex)
    assert _trade(client, tampered, _host(settings, boxes[1])).status_code == 401
    # A code is not a cookie: it cannot skip the trade.
    code = url.split("code=")[1]
    assert _visit(client, _host(settings, box), code).json() == REFUSED
    for junk in ["", "g1.", "g1." + "x" * 600, "g1.é.x", "g1.v.x.y"]:
        assert _trade(client, url.split("code=")[0] + "code=" + junk).status_code == 401
        if junk.isascii():
            assert _visit(client, _host(settings, box), junk).json() == REFUSED
    # Signed with another server's key: refused.
    elsewhere = settings.model_copy(update={"api_token": "another-server"})
    with viewer.database.session() as db:
        foreign = preview_grants.mint_code(
            db,
            principal=console_principal(SHARED),
            settings=elsewhere,
            sandbox_id=uuid.UUID(box["id"]),
            port=8000,
            sign_in=viewer.sign_in,
        )
    assert _trade(client, foreign).status_code == 401
    posted = client.post(
        urlsplit(url).path + "?" + urlsplit(url).query, headers={"Host": urlsplit(url).netloc}
    )
    assert posted.status_code == 405


def test_signing_out_ends_codes_and_view_cookies(secured, boxes, viewer, database):
    settings, client = secured
    box = boxes[0]
    view = _trade(client, viewer.code(box)).cookies["mbox_preview"]
    unused = viewer.code(box)
    assert _visit(client, _host(settings, box), view).json() == NOT_RUNNING
    viewer.sign_out()
    # Attack: the code minted for the signed-in user, replayed after they signed out.
    assert _trade(client, unused).json() == REFUSED
    # The view cookie stops within the recheck interval.
    deadline = time.monotonic() + preview_grants.SIGN_IN_RECHECK_SECONDS + 3
    while _visit(client, _host(settings, box), view).status_code != 401:
        assert time.monotonic() < deadline, "the view cookie outlived the sign-out"
        time.sleep(0.2)
    # Another sign-in of the same person is not affected.
    fresh = Viewer(settings, database)
    assert _trade(client, fresh.code(box)).status_code == 303


def test_grants_need_a_sign_in_and_operate_rights(secured, boxes, viewer):
    """Grants are minted by console events (the state socket refuses other origins:
    tests/security/test_web_websockets.py) and by no HTTP route at all."""
    settings, client = secured
    with viewer.database.session() as db, pytest.raises(Unauthorized):
        preview_grants.mint_code(
            db,
            principal=console_principal(SHARED),
            settings=settings,
            sandbox_id=uuid.UUID(boxes[0]["id"]),
            port=8000,
            sign_in=None,
        )
    paths = client.get("/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if "grant" in path or ".mbox" in path]
    with pytest.raises(InvalidInput, match="port 9000 is not a declared TCP port"):
        viewer.code(boxes[0], port=9000)


def test_revoking_the_token_signed_in_with_ends_its_grants(secured, boxes, database):
    """A console sign-in made with a named token: its grants end with the token; a role
    that may not operate sandboxes gets none."""
    settings, client = secured
    box = boxes[0]

    def signed_in_with(role: str) -> tuple[dict, Viewer, object]:
        created = client.post("/v1/tokens", json={"name": role, "principal": "erin", "role": role})
        assert created.status_code == 201, created.text
        viewer = Viewer(settings, database)
        subject = f"token:{created.json()['id']}"
        viewer.sign_in = sign_in_from_cookie(settings, issue_sign_in(settings, subject))
        with database.session() as db:
            principal = principal_of_sign_in(db, viewer.sign_in)
        return created.json(), viewer, console_principal(principal)

    def code(viewer: Viewer, principal) -> str:
        with database.session() as db:
            return preview_grants.mint_code(
                db,
                principal=principal,
                settings=settings,
                sandbox_id=uuid.UUID(box["id"]),
                port=8000,
                sign_in=viewer.sign_in,
            )

    _, watcher, reader = signed_in_with("viewer")
    with pytest.raises(Forbidden):
        code(watcher, reader)

    token, viewer, principal = signed_in_with("developer")
    view = _trade(client, code(viewer, principal)).cookies["mbox_preview"]
    unused = code(viewer, principal)
    assert _visit(client, _host(settings, box), view).json() == NOT_RUNNING
    assert client.delete(f"/v1/tokens/{token['id']}").status_code == 200
    assert _trade(client, unused).json() == REFUSED
    deadline = time.monotonic() + preview_grants.SIGN_IN_RECHECK_SECONDS + 3
    while _visit(client, _host(settings, box), view).status_code != 401:
        assert time.monotonic() < deadline, "the view cookie outlived its token"
        time.sleep(0.2)
