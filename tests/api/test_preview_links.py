"""Preview links: creation rules, listing, revocation, verification, preview origins."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest

from backend.db import utcnow
from backend.sandboxes import previews
from backend.sandboxes.models import PreviewLinkRow
from tests.api.conftest import TOKEN


@pytest.fixture
def sandbox(api) -> dict:
    template = api.template(
        exposedPorts=[
            {"name": "web", "port": 8000},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ]
    )
    return api.sandbox(api.project(), template)


def _links(sandbox: dict) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/preview-links"


def test_create_shows_the_secret_once_and_stores_its_hash(client, api, sandbox, database):
    response = client.post(
        _links(sandbox),
        json={"port": 8000, "label": " review "},
        headers={"X-Mbox-Audit-Actor": "ann"},
    )
    assert response.status_code == 201, response.text
    link = response.json()
    hex_id = uuid.UUID(sandbox["id"]).hex
    prefix = f"http://8000-{hex_id}.preview.localhost:3000/.mbox/link?token={link['id']}."
    assert link["url"].startswith(prefix)
    secret = link["url"].removeprefix(prefix)
    assert len(secret) >= 40
    assert (link["sandboxId"], link["port"], link["label"]) == (sandbox["id"], 8000, "review")
    assert link["createdBy"] == "ann"
    assert "revokedAt" not in link
    with database.session() as db:
        row = db.get(PreviewLinkRow, uuid.UUID(link["id"]))
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(seconds=3600)
    [listed] = client.get(_links(sandbox)).json()["items"]
    assert "url" not in listed and listed["id"] == link["id"]
    [event] = api.audit(action="preview.link.created")
    assert event["resourceId"] == link["id"] and event["resourceType"] == "preview-link"
    assert event["projectId"] == sandbox["projectId"]
    assert event["metadata"]["port"] == 8000 and event["metadata"]["label"] == "review"
    assert secret not in str(event)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "port is required"),
        ({"port": 9000}, "port 9000 is not a declared TCP port of this sandbox"),
        ({"port": 53}, "port 53 is not a declared TCP port of this sandbox"),
        ({"port": 8000, "expiresInSeconds": 59}, "expiresInSeconds must be between 60 and 604800"),
        (
            {"port": 8000, "expiresInSeconds": 604801},
            "expiresInSeconds must be between 60 and 604800",
        ),
        ({"port": 8000, "label": "x" * 121}, "label is too long (at most 120 characters)"),
        ({"port": 8000, "label": "a\nb"}, "label cannot contain control characters"),
        ({"port": "8000"}, "invalid JSON request body"),
        ({"port": 8000, "url": "x"}, "invalid JSON request body"),
    ],
)
def test_create_validation(client, sandbox, row_counts, payload, message):
    before = row_counts()
    response = client.post(_links(sandbox), json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert row_counts() == before


def test_expiry_bounds_follow_the_setting(settings, database, api, sandbox):
    from starlette.testclient import TestClient

    from tests.api.conftest import build_api

    short = TestClient(build_api(settings, database, preview_link_max_seconds=120))
    assert (
        short.post(_links(sandbox), json={"port": 8000, "expiresInSeconds": 120}).status_code == 201
    )
    refused = short.post(_links(sandbox), json={"port": 8000, "expiresInSeconds": 121})
    assert refused.json() == {"error": "expiresInSeconds must be between 60 and 120"}


def test_unknown_and_invalid_sandboxes(client):
    assert (
        client.post(f"/v1/sandboxes/{uuid.uuid4()}/preview-links", json={"port": 1}).status_code
        == 404
    )
    invalid = client.get("/v1/sandboxes/nope/preview-links")
    assert invalid.status_code == 400 and invalid.json() == {"error": "invalid sandbox id"}


def test_list_newest_first_and_revoke_is_idempotent(client, api, sandbox):
    first = client.post(_links(sandbox), json={"port": 8000, "label": "first"}).json()
    second = client.post(_links(sandbox), json={"port": 8000, "label": "second"}).json()
    listed = client.get(_links(sandbox)).json()["items"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]

    revoked = client.post(f"/v1/preview-links/{first['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    again = client.post(f"/v1/preview-links/{first['id']}/revoke").json()
    assert again["revokedAt"] == revoked.json()["revokedAt"]
    assert len(api.audit(action="preview.link.revoked")) == 1
    listed = {item["id"]: item for item in client.get(_links(sandbox)).json()["items"]}
    assert "revokedAt" in listed[first["id"]] and "revokedAt" not in listed[second["id"]]

    invalid = client.post("/v1/preview-links/not-a-uuid/revoke")
    assert invalid.status_code == 400 and invalid.json() == {"error": "invalid preview link id"}
    missing = client.post(f"/v1/preview-links/{uuid.uuid4()}/revoke")
    assert missing.status_code == 404 and missing.json() == {"error": "preview link not found"}


def test_link_routes_need_the_bearer_token(secured_client):
    for method, path in [
        ("POST", f"/v1/sandboxes/{uuid.uuid4()}/preview-links"),
        ("GET", f"/v1/sandboxes/{uuid.uuid4()}/preview-links"),
        ("POST", f"/v1/preview-links/{uuid.uuid4()}/revoke"),
        ("GET", f"/v1/sandboxes/{uuid.uuid4()}/ports/8000/proxy/"),
    ]:
        response = secured_client.request(method, path)
        assert response.status_code == 401, (method, path)
    authorized = secured_client.get(
        f"/v1/sandboxes/{uuid.uuid4()}/preview-links", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert authorized.status_code == 404


def test_verify(client, sandbox, database):
    link = client.post(_links(sandbox), json={"port": 8000}).json()
    token = link["url"].split("token=")[1]
    with database.session() as db:
        assert previews.verify(db, token).id == uuid.UUID(link["id"])
        assert previews.verify(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert previews.verify(db, f"{uuid.uuid4()}.{token.split('.')[1]}") is None
        assert previews.verify(db, "garbage") is None
        row = db.get(PreviewLinkRow, uuid.UUID(link["id"]))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
        assert previews.verify(db, token) is None
        row.expires_at = utcnow() + timedelta(hours=1)
        row.revoked_at = utcnow()
        db.commit()
        assert previews.verify(db, token) is None


def test_the_proxy_checks_its_sandbox(client, sandbox):
    """Without a running runtime (these tests start none): 409, checked before the port."""
    base = f"/v1/sandboxes/{sandbox['id']}/ports"
    pending = client.get(f"{base}/8000/proxy/x")
    assert pending.status_code == 409
    assert pending.json() == {"error": "sandbox must be running before opening preview"}
    assert client.get(f"{base}/abc/proxy/").status_code == 409
    redirect = client.get(f"{base}/8000/proxy?a=1", follow_redirects=False)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"{base}/8000/proxy/?a=1"


def test_preview_origins(settings):
    sandbox_id = uuid.uuid4()
    origin = previews.preview_origin(settings, sandbox_id, 5173)
    assert origin == f"http://5173-{sandbox_id.hex}.preview.localhost:3000"
    host = origin.removeprefix("http://")
    assert previews.parse_preview_host(settings, host) == (sandbox_id, 5173)
    assert previews.parse_preview_host(settings, host.upper()) == (sandbox_id, 5173)
    assert previews.parse_preview_host(settings, host.split(":")[0]) == (sandbox_id, 5173)
    for other in [
        "preview.localhost:3000",
        "localhost:3000",
        f"0-{sandbox_id.hex}.preview.localhost",
        f"65536-{sandbox_id.hex}.preview.localhost",
        f"080-{sandbox_id.hex}.preview.localhost",
        f"80-{sandbox_id}.preview.localhost",
        f"x.80-{sandbox_id.hex}.preview.localhost",
        f"80-{sandbox_id.hex}.preview.localhost.evil.example",
        f"80-{sandbox_id.hex}.evilpreview.localhost",
    ]:
        assert previews.parse_preview_host(settings, other) is None, other
    behind_tls = settings.model_copy(update={"preview_base_url": "https://apps.example.com"})
    assert (
        previews.preview_origin(behind_tls, sandbox_id, 80)
        == f"https://80-{sandbox_id.hex}.apps.example.com"
    )
    assert previews.parse_preview_host(behind_tls, f"80-{sandbox_id.hex}.apps.example.com") == (
        sandbox_id,
        80,
    )
