"""Runtime sessions: the reference's create/list/get/end, with the reference's bugs fixed
(reads write no audit; ending a failed session keeps it failed) and bad input refused."""

from __future__ import annotations

import uuid

import pytest

from backend.auth.models import SYSTEM
from backend.sessions import service as sessions


@pytest.fixture
def sandbox(api) -> dict:
    return api.sandbox(api.project(), api.template())


def test_create_list_get_end(client, api, sandbox):
    created = client.post(
        f"/v1/sandboxes/{sandbox['id']}/sessions",
        json={"type": "ide", "client": "  vscode  ", "metadata": {"port": 8080}},
        headers={"User-Agent": "tests/1.0"},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["type"] == "ide" and session["status"] == "active"
    assert session["client"] == "vscode" and session["userAgent"] == "tests/1.0"
    assert session["metadata"] == {"port": 8080}
    assert session["sandboxId"] == sandbox["id"] and session["projectId"] == sandbox["projectId"]
    assert "endedAt" not in session and "recording" not in session

    listed = client.get(f"/v1/sandboxes/{sandbox['id']}/sessions").json()["items"]
    assert [item["id"] for item in listed] == [session["id"]]
    assert client.get(f"/v1/sessions/{session['id']}").json() == session

    ended = client.post(f"/v1/sessions/{session['id']}/end").json()
    assert ended["status"] == "ended" and ended["endedAt"] >= ended["startedAt"]
    again = client.post(f"/v1/sessions/{session['id']}/end").json()
    assert again["endedAt"] == ended["endedAt"]  # ending twice changes nothing

    actions = [event["action"] for event in api.audit()]
    assert actions.count("runtime.session.created") == 1
    assert actions.count("runtime.session.ended") == 1  # one end, no event for the read


def test_ending_a_failed_session_keeps_it_failed(client, database, sandbox):
    with database.session() as db:
        session_id = sessions.open_terminal_session(
            db,
            principal=SYSTEM,
            sandbox_id=uuid.UUID(sandbox["id"]),
            terminal_id=uuid.uuid4(),
            client="web-terminal",
            user_agent="x",
            metadata={},
        )
        sessions.close_terminal_session(
            db, principal=SYSTEM, session_id=session_id, error="exec failed"
        )
    ended = client.post(f"/v1/sessions/{session_id}/end").json()
    assert ended["status"] == "failed" and ended["error"] == "exec failed"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "session type is invalid"),
        ({"type": "shell"}, "session type is invalid"),
        ({"type": "ide", "client": "x" * 121}, "session client is too long"),
        ({"type": "ide", "extra": 1}, None),
        ({"type": 5}, None),
    ],
)
def test_bad_session_input_is_refused_and_changes_nothing(
    client, sandbox, row_counts, payload, message
):
    before = row_counts()
    response = client.post(f"/v1/sandboxes/{sandbox['id']}/sessions", json=payload)
    assert response.status_code == 400
    if message:
        assert response.json() == {"error": message}
    assert row_counts() == before


def test_session_ids_are_checked(client, sandbox):
    assert client.get("/v1/sessions/nope").json() == {"error": "invalid session id"}
    missing = client.get(f"/v1/sessions/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert client.post(f"/v1/sessions/{uuid.uuid4()}/end").status_code == 404
    assert client.get(f"/v1/sandboxes/{uuid.uuid4()}/sessions").status_code == 404
    assert client.get(f"/v1/sessions/{uuid.uuid4()}/recording").status_code == 404


def test_sessions_need_the_token(secured_client, settings, database):
    assert secured_client.get(f"/v1/sessions/{uuid.uuid4()}").status_code == 401
