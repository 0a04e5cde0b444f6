"""No response, log line, audit event or database row contains a token or a secret value.

A session of ordinary use (the shared token and named tokens at work, a console sign-in,
a preview share link, failed attempts with secret-looking strings) runs with every log
record captured; then every response (except the one answer that shows a new secret
once), every log record, every audit event and every column of every table is searched
for each secret.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from backend.db import Database
from backend.models import metadata
from tests.api.conftest import TOKEN, build_api

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Recorder:
    """A client that keeps every response it got (bodies and headers)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seen: list[str] = []

    def call(self, method: str, path: str, *, shows_secret: bool = False, **kwargs: Any):
        response = self.client.request(method, path, follow_redirects=False, **kwargs)
        if not shows_secret:
            self.seen.append(f"{response.status_code} {response.headers!r} {response.text}")
        return response


def test_no_secret_leaks(settings, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = Recorder(TestClient(build_api(settings, database, api_token=TOKEN)))
    admin = {"Authorization": f"Bearer {TOKEN}"}
    secrets = [TOKEN]

    project = client.call(
        "POST", "/v1/projects", json={"name": "Scan", "defaultNamespace": "scan"}, headers=admin
    ).json()
    template = client.call(
        "POST",
        "/v1/templates",
        json={
            "name": "Web",
            "image": "python:3.12",
            "projectId": project["id"],
            "exposedPorts": [{"name": "web", "port": 8000}],
        },
        headers=admin,
    ).json()
    sandbox = client.call(
        "POST",
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "box"},
        headers=admin,
    ).json()
    minted = client.call(
        "POST",
        "/v1/tokens",
        json={"name": "ci", "principal": "ci-bot", "role": "developer"},
        headers=admin,
        shows_secret=True,
    ).json()
    named = {"Authorization": f"Bearer {minted['token']}"}
    secrets.append(minted["token"])
    link = client.call(
        "POST",
        f"/v1/sandboxes/{sandbox['id']}/preview-links",
        json={"port": 8000},
        headers=named,
        shows_secret=True,
    ).json()
    secrets.append(link["url"].rsplit("/", 1)[-1].split("=")[-1])
    assert len(secrets[-1]) >= 20, link["url"]

    for path in ("/v1/whoami", "/v1/tokens", f"/v1/tokens/{minted['id']}", "/v1/projects",
                 f"/v1/sandboxes/{sandbox['id']}", f"/v1/sandboxes/{sandbox['id']}/preview-links",
                 "/v1/audit-events?limit=200"):  # fmt: skip
        assert (
            client.call("GET", path, headers=named if "audit" not in path else admin).status_code
            == 200
        )
    signed_in = client.call(
        "POST", "/login", data={"token": minted["token"], "next": "/"}, shows_secret=True
    )
    assert signed_in.status_code == 303
    cookie = signed_in.cookies.get("mbox_session")
    assert cookie
    secrets.append(cookie)
    client.call("GET", "/v1/whoami")  # with the sign-in cookie the client kept
    # Near misses: a wrong token that looks real, a revoked one, a guessed sign-in.
    near_miss = "mbx_" + uuid.uuid4().hex + uuid.uuid4().hex
    secrets.append(near_miss)
    client.call("GET", "/v1/whoami", headers={"Authorization": f"Bearer {near_miss}"})
    client.call("POST", "/login", data={"token": near_miss})
    client.call("DELETE", f"/v1/tokens/{minted['id']}", headers=admin)
    client.call("GET", "/v1/whoami", headers=named)

    audit = client.call("GET", "/v1/audit-events?limit=200", headers=admin).json()["items"]
    assert audit, "the session was audited"
    logs = [
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records
    ]
    rows = _every_row(database)
    for secret in secrets:
        assert not [r for r in client.seen if secret in r], "a response shows a secret"
        assert not [line for line in logs if secret in line], "a log line shows a secret"
        assert secret not in str(audit), "an audit event shows a secret"
        assert not [row for row in rows if secret in row], "a database row holds a secret"


def _every_row(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return [
            str(tuple(row))
            for table in metadata.sorted_tables
            for row in connection.execute(sa.select(table))
        ]
