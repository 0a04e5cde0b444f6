"""The Idempotency-Key header on create routes: a retry replays the first answer and does
nothing else; a different request with the key is refused, so is one while the first
runs; a failure forgets the key; keys are per principal; the tokens route refuses it."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from backend.db import Database, utcnow
from backend.idempotency.models import IdempotencyRecordRow
from backend.projects import service as projects
from tests.api.conftest import TOKEN, build_api

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def key(value: str | None = None) -> dict[str, str]:
    return {"Idempotency-Key": value or f"k-{uuid.uuid4().hex}"}


def project_body(name: str = "Idem") -> dict:
    return {"name": name, "defaultNamespace": "mbox-test"}


def records(database: Database) -> list[IdempotencyRecordRow]:
    with database.session() as db:
        return list(db.exec(sa.select(IdempotencyRecordRow)).scalars())


def test_a_retry_replays_the_first_answer_and_does_nothing_else(
    client: TestClient, api, row_counts
) -> None:
    headers = key()
    first = client.post("/v1/projects", json=project_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = row_counts()
    again = client.post("/v1/projects", json=project_body(), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert again.json() == first.json()
    assert row_counts() == before  # no second project, no second audit event
    assert before["projects"] == 1
    created = [e for e in api.audit() if e["action"] == "project.created"]
    assert len(created) == 1


def test_without_the_header_nothing_is_kept(client: TestClient, database: Database) -> None:
    for name in ("A", "B"):
        assert client.post("/v1/projects", json=project_body(name)).status_code == 201
    assert records(database) == []


def test_the_key_on_a_different_request_is_refused(client: TestClient, api, row_counts) -> None:
    headers = key()
    assert client.post("/v1/projects", json=project_body("One"), headers=headers).status_code == 201
    before = row_counts()
    mismatch = {"error": "this Idempotency-Key was used for a different request"}
    other_body = client.post("/v1/projects", json=project_body("Two"), headers=headers)
    assert (other_body.status_code, other_body.json()) == (422, mismatch)
    other_path = client.post("/v1/templates", json={"name": "t", "image": "x"}, headers=headers)
    assert (other_path.status_code, other_path.json()) == (422, mismatch)
    assert row_counts() == before


def test_a_refusal_is_not_kept(client: TestClient, database: Database) -> None:
    """A refused request changed nothing: running it again is as safe as replaying it,
    and may succeed once what refused it has changed."""
    headers = key()
    first = client.post("/v1/projects", json={"name": ""}, headers=headers)
    assert first.status_code == 400
    again = client.post("/v1/projects", json={"name": ""}, headers=headers)
    assert again.status_code == 400 and "idempotent-replayed" not in again.headers
    assert again.json() == first.json() and records(database) == []


def test_a_read_only_token_cannot_fill_the_database(
    secured_client: TestClient, database: Database
) -> None:
    """Attack: a viewer may write nothing; keys on requests it is refused must not let it
    store a row per request for a day."""
    minted = secured_client.post(
        "/v1/tokens",
        json={"name": "ro", "principal": "reader", "role": "viewer"},
        headers=ADMIN,
    )
    viewer = {"Authorization": f"Bearer {minted.json()['token']}"}
    for _ in range(20):
        refused = secured_client.post(
            "/v1/projects", json=project_body(), headers={**viewer, **key()}
        )
        assert refused.status_code == 403
    assert records(database) == []


def test_a_retry_while_the_first_runs_is_refused(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    create = projects.create_project

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(30)
        return create(*args, **kwargs)

    monkeypatch.setattr(projects, "create_project", slow)
    headers = key()
    answers: list = []
    first = threading.Thread(
        target=lambda: answers.append(
            client.post("/v1/projects", json=project_body(), headers=headers)
        )
    )
    first.start()
    try:
        assert entered.wait(30)
        busy = client.post("/v1/projects", json=project_body(), headers=headers)
        assert busy.status_code == 409
        assert busy.json() == {"error": "a request with this Idempotency-Key is still in progress"}
        different = client.post("/v1/projects", json=project_body("Other"), headers=headers)
        assert different.status_code == 422
    finally:
        release.set()
        first.join(30)
    assert answers[0].status_code == 201, answers[0].text
    replayed = client.post("/v1/projects", json=project_body(), headers=headers)
    assert replayed.json()["id"] == answers[0].json()["id"]
    assert replayed.headers["idempotent-replayed"] == "true"


def test_a_server_error_forgets_the_key(
    settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(build_api(settings, database), raise_server_exceptions=False)
    create = projects.create_project

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(projects, "create_project", broken)
    headers = key()
    failed = client.post("/v1/projects", json=project_body(), headers=headers)
    assert failed.status_code == 500
    assert records(database) == []
    monkeypatch.setattr(projects, "create_project", create)
    retried = client.post("/v1/projects", json=project_body(), headers=headers)
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert len(records(database)) == 1


def test_keys_are_per_principal(secured_client: TestClient) -> None:
    tokens = []
    for principal in ("alice", "bob"):
        minted = secured_client.post(
            "/v1/tokens",
            json={"name": principal, "principal": principal, "role": "admin"},
            headers=ADMIN,
        )
        assert minted.status_code == 201, minted.text
        tokens.append({"Authorization": f"Bearer {minted.json()['token']}"})
    shared = key("same-key")
    ids = []
    for name, headers in zip(("Alice's", "Bob's"), tokens, strict=True):
        answer = secured_client.post(
            "/v1/projects", json=project_body(name), headers={**headers, **shared}
        )
        assert answer.status_code == 201, answer.text
        assert "idempotent-replayed" not in answer.headers
        ids.append(answer.json()["id"])
    assert ids[0] != ids[1]
    again = secured_client.post(
        "/v1/projects", json=project_body("Alice's"), headers={**tokens[0], **shared}
    )
    assert again.json()["id"] == ids[0] and again.headers["idempotent-replayed"] == "true"


def test_the_tokens_route_refuses_the_header(
    secured_client: TestClient, database: Database
) -> None:
    answer = secured_client.post(
        "/v1/tokens",
        json={"name": "ci", "principal": "ci", "role": "viewer"},
        headers={**ADMIN, **key()},
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["error"]
    listed = secured_client.get("/v1/tokens", headers=ADMIN).json()["items"]
    assert listed == [] and records(database) == []


def test_no_share_link_secret_is_kept(client: TestClient, api, database: Database) -> None:
    """Attack: a share link's secret is shown once and only its hash is stored; an
    Idempotency-Key must not make the server keep the whole answer (the URL with the
    secret) for a day in its database."""
    template = api.template(exposedPorts=[{"name": "web", "port": 8000}])
    sandbox = api.sandbox(api.project(), template)
    answer = client.post(
        f"/v1/sandboxes/{sandbox['id']}/preview-links", json={"port": 8000}, headers=key()
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["error"]
    assert records(database) == []
    assert client.get(f"/v1/sandboxes/{sandbox['id']}/preview-links").json()["items"] == []


@pytest.mark.parametrize("bad", ["", "x" * 129, "caf\u00e9", "tab\there", "bell\x07"])
def test_bad_keys_are_refused(client: TestClient, database: Database, bad: str) -> None:
    answer = client.post(
        "/v1/projects",
        json=project_body(),
        headers=[(b"Idempotency-Key", bad.encode("utf-8"))],
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "Idempotency-Key must be 1 to 128 printable ASCII characters"}
    assert records(database) == []


def test_the_longest_key_is_accepted(client: TestClient) -> None:
    answer = client.post("/v1/projects", json=project_body(), headers=key("k" * 128))
    assert answer.status_code == 201


def test_old_records_are_ignored_and_purged(client: TestClient, database: Database) -> None:
    headers = key()
    first = client.post("/v1/projects", json=project_body("Old"), headers=headers)
    with database.session() as db:
        for record in db.exec(sa.select(IdempotencyRecordRow)).scalars():
            record.created_at = utcnow() - timedelta(hours=25)
        db.commit()
    client.delete(f"/v1/projects/{first.json()['id']}")  # the same body may succeed again
    again = client.post("/v1/projects", json=project_body("Old"), headers=headers)
    assert "idempotent-replayed" not in again.headers  # run again: a new request
    assert again.json().get("id") != first.json()["id"]
    assert len(records(database)) == 1  # the old one purged


def test_other_routes_ignore_the_header(client: TestClient, api, database: Database) -> None:
    project = api.project()
    sandbox = api.sandbox(project, api.template())
    for _ in range(2):
        stopped = client.post(f"/v1/sandboxes/{sandbox['id']}/stop", headers=key("stop"))
        assert stopped.status_code == 200 and "idempotent-replayed" not in stopped.headers
    assert records(database) == []


def test_a_sandbox_launch_is_not_repeated(client: TestClient, api, row_counts) -> None:
    project, template = api.project(), api.template()
    body = {"projectId": project["id"], "templateId": template["id"], "name": "once"}
    headers = key()
    first = client.post("/v1/sandboxes", json=body, headers=headers)
    assert first.status_code == 201, first.text
    before = row_counts()
    again = client.post("/v1/sandboxes", json=body, headers=headers)
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    assert again.headers["idempotent-replayed"] == "true"
    assert row_counts() == before and before["sandboxes"] == 1
