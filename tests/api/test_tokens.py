"""Named API tokens: minted with a role and a scope, shown once, stored hashed, expiring,
revocable, with their last use; nobody mints a token stronger or wider than their own."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.auth.models import ApiTokenRow
from backend.db import Database, utcnow
from tests.api.conftest import TOKEN, build_api

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint(client: TestClient, headers: dict[str, str], **fields) -> dict:
    response = client.post("/v1/tokens", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_token_is_shown_once_and_stored_hashed(
    secured_client: TestClient, database: Database
) -> None:
    created = mint(secured_client, ADMIN, name="ci", principal="ci-bot", role="developer")
    secret = created["token"]
    assert secret.startswith("mbx_") and len(secret) > 40
    assert created["prefix"] == secret[:12] and created["status"] == "active"
    assert created["principal"] == "ci-bot" and created["role"] == "developer"
    listed = secured_client.get("/v1/tokens", headers=ADMIN).json()["items"]
    shown = next(item for item in listed if item["id"] == created["id"])
    assert "token" not in shown and shown["prefix"] == created["prefix"]
    fetched = secured_client.get(f"/v1/tokens/{created['id']}", headers=ADMIN).json()
    assert "token" not in fetched
    with database.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM api_tokens")).mappings().all()
    assert all(secret not in str(dict(row)) for row in stored)
    who = secured_client.get("/v1/whoami", headers=bearer(secret)).json()
    assert who["principal"] == "ci-bot" and who["role"] == "developer"
    assert who["tokenId"] == created["id"] and "operate" in who["permissions"]
    assert "govern" not in who["permissions"]


def test_last_use_is_recorded(secured_client: TestClient) -> None:
    created = mint(secured_client, ADMIN, name="t", principal="alice", role="viewer")
    assert "lastUsedAt" not in created
    assert secured_client.get("/v1/projects", headers=bearer(created["token"])).status_code == 200
    fetched = secured_client.get(f"/v1/tokens/{created['id']}", headers=ADMIN).json()
    assert fetched["lastUsedAt"] >= fetched["createdAt"]


def test_revoked_and_expired_tokens_are_refused(
    secured_client: TestClient, database: Database
) -> None:
    revoked = mint(secured_client, ADMIN, name="a", principal="alice", role="admin")
    expiring = mint(
        secured_client, ADMIN, name="b", principal="alice", role="admin", expiresInDays=1
    )
    for token in (revoked, expiring):
        assert secured_client.get("/v1/whoami", headers=bearer(token["token"])).status_code == 200
    answer = secured_client.delete(f"/v1/tokens/{revoked['id']}", headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["status"] == "revoked"
    with database.session() as db:
        row = db.get(ApiTokenRow, uuid.UUID(expiring["id"]))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
    for token in (revoked, expiring):
        refused = secured_client.get("/v1/whoami", headers=bearer(token["token"]))
        assert refused.status_code == 401
        assert refused.json() == {"error": "missing or invalid bearer token"}
    statuses = {
        i["id"]: i["status"]
        for i in secured_client.get("/v1/tokens", headers=ADMIN).json()["items"]
    }
    assert statuses[revoked["id"]] == "revoked" and statuses[expiring["id"]] == "expired"
    events = secured_client.get(
        "/v1/audit-events", params={"resourceType": "api_token"}, headers=ADMIN
    ).json()["items"]
    assert {e["action"] for e in events} == {"token.created", "token.revoked"}
    assert all(revoked["token"] not in str(e) for e in events)


def project(client: TestClient) -> dict:
    answer = client.post(
        "/v1/projects", json={"name": f"P {uuid.uuid4().hex[:6]}", "defaultNamespace": "p"},
        headers=ADMIN,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_nobody_mints_a_stronger_or_wider_token(secured_client: TestClient) -> None:
    own, other = project(secured_client), project(secured_client)
    developer = mint(
        secured_client, ADMIN, name="d", principal="dev", role="developer",
        projectIds=[own["id"]],
    )["token"]  # fmt: skip
    refusals = [
        ({"name": "x", "role": "admin"}, 403),
        ({"name": "x", "role": "auditor"}, 403),  # audit is not a developer's
        ({"name": "x", "projectIds": [other["id"]]}, 400),  # not a project it sees
        ({"name": "x", "principal": "someone-else"}, 403),
        ({"name": "x", "role": "root"}, 400),
        ({"name": "", "role": "viewer"}, 400),
        ({"name": "x", "expiresInDays": 0}, 400),
    ]
    for body, status in refusals:
        answer = secured_client.post("/v1/tokens", json=body, headers=bearer(developer))
        assert answer.status_code == status, (body, answer.text)
        assert "error" in answer.json()
    weaker = mint(secured_client, bearer(developer), name="ro", role="viewer")
    assert weaker["principal"] == "dev" and weaker["projectIds"] == [own["id"]]
    listed = secured_client.get("/v1/tokens", headers=bearer(developer)).json()["items"]
    assert {item["principal"] for item in listed} == {"dev"}
    admin_token = mint(secured_client, ADMIN, name="x", principal="carol", role="operator")
    answer = secured_client.delete(f"/v1/tokens/{admin_token['id']}", headers=bearer(developer))
    assert answer.status_code == 404  # someone else's token: not even its existence


def test_the_shared_token_must_name_the_principal(secured_client: TestClient) -> None:
    answer = secured_client.post("/v1/tokens", json={"name": "x"}, headers=ADMIN)
    assert answer.status_code == 400 and "principal" in answer.json()["error"]
    for reserved in ("system", "anonymous", "console", "Not A Name"):
        answer = secured_client.post(
            "/v1/tokens", json={"name": "x", "principal": reserved}, headers=ADMIN
        )
        assert answer.status_code == 400, reserved


def test_a_console_sign_in_ends_when_its_token_is_revoked(secured_client: TestClient) -> None:
    created = mint(secured_client, ADMIN, name="web", principal="erin", role="viewer")
    signed_in = secured_client.post(
        "/login", data={"token": created["token"], "next": "/"}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    assert signed_in.cookies.get("mbox_session")  # the client keeps it from here on
    who = secured_client.get("/v1/whoami", headers={"Origin": "http://testserver"})
    assert who.status_code == 200 and who.json()["principal"] == "erin"
    secured_client.delete(f"/v1/tokens/{created['id']}", headers=ADMIN)
    after = secured_client.get("/v1/whoami")
    assert after.status_code == 401
    events = secured_client.get(
        "/v1/audit-events", params={"action": "auth.signed_in"}, headers=ADMIN
    ).json()["items"]
    assert events and events[0]["actor"] == "erin" and events[0]["source"] == "console"


def test_a_failed_sign_in_is_audited_without_what_was_typed(secured_client: TestClient) -> None:
    typed = "mbx_not-a-real-token-but-secret-looking"
    answer = secured_client.post("/login", data={"token": typed}, follow_redirects=False)
    assert answer.status_code == 303 and "error=1" in answer.headers["location"]
    events = secured_client.get(
        "/v1/audit-events", params={"action": "auth.sign_in_failed"}, headers=ADMIN
    ).json()["items"]
    assert len(events) == 1 and typed not in str(events)


def test_revoking_a_token_closes_its_open_websockets(settings, database) -> None:
    """Attack: a leaked token is revoked, but the terminal or preview socket it opened
    stays open. Stopped by: sockets opened with a named token are re-checked every
    POLL_SECONDS and closed (4401) once the token is revoked."""
    app = build_api(settings, database, api_token=TOKEN)
    app.state.sign_ins.POLL_SECONDS = 0.1
    client = TestClient(app)
    created = mint(client, ADMIN, name="ws", principal="frank", role="developer")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_text(await websocket.receive_text())

    app.router.routes.insert(0, WebSocketRoute("/v1/echo-for-test", echo))
    with client.websocket_connect("/v1/echo-for-test", headers=bearer(created["token"])) as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        client.delete(f"/v1/tokens/{created['id']}", headers=ADMIN)
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(200):
                ws.send_text("still here?")
                ws.receive_text()
                time.sleep(0.01)
        assert closed.value.code == 4401


def test_attack_another_site_cannot_mint_a_token_with_the_console_cookie(
    secured_client: TestClient,
) -> None:
    """Attack: a page on evil.example makes a signed-in admin's browser POST /v1/tokens and
    so mint itself a token (or read the token list). Stopped by: a foreign Origin is refused
    for writes (403), the sign-in cookie never authorizes a write (401), and reads with it
    count only from the console's own origin (401)."""
    admin = mint(secured_client, ADMIN, name="web", principal="root-user", role="admin")
    signed_in = secured_client.post(
        "/login", data={"token": admin["token"]}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    body = {"name": "stolen", "role": "admin"}
    evil = {"Origin": "http://evil.example"}
    assert secured_client.post("/v1/tokens", json=body, headers=evil).status_code == 403
    own = {"Origin": "http://testserver"}
    assert secured_client.post("/v1/tokens", json=body, headers=own).status_code == 401
    assert secured_client.get("/v1/tokens", headers=evil).status_code == 401
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    assert secured_client.get("/v1/tokens", headers=cross_site).status_code == 401
    listed = secured_client.get("/v1/tokens", headers=ADMIN).json()["items"]
    assert [item["name"] for item in listed] == ["web"]
