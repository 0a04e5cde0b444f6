"""The long-poll queries (`wait`, `after`): what they accept, what they refuse, that they
are in the OpenAPI document, and a sandbox wait ended by a change from another thread.
(Tasks that really run: tests/runtime/test_waits.py.)"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from starlette.testclient import TestClient

WAIT_REFUSED = {"error": "wait must be a number of seconds from 0 to 60"}
AFTER_REFUSED = {"error": "after must be an RFC3339 timestamp"}
BAD_WAITS = ["", "-1", "60.5", "61", "abc", "nan", "inf", "1e1", "0x10", "1,5", " "]


@pytest.mark.parametrize("wait", BAD_WAITS)
def test_a_bad_wait_is_refused(client: TestClient, api, wait: str) -> None:
    sandbox = api.sandbox(api.project(), api.template())
    for answer in (
        client.get(f"/v1/tasks/{uuid.uuid4()}", params={"wait": wait}),
        client.post(
            f"/v1/sandboxes/{sandbox['id']}/tasks", params={"wait": wait}, json={"command": ["x"]}
        ),
    ):
        assert (answer.status_code, answer.json()) == (400, WAIT_REFUSED)
    listed = client.get(f"/v1/sandboxes/{sandbox['id']}/tasks").json()["items"]
    assert listed == []


@pytest.mark.parametrize("wait", ["0", "0.25", "60", "60.0", ".5", "7."])
def test_good_waits_pass(client: TestClient, wait: str) -> None:
    answer = client.get(f"/v1/tasks/{uuid.uuid4()}", params={"wait": wait})
    assert answer.status_code == 404  # the wait was accepted; the task does not exist


@pytest.mark.parametrize("after", ["yesterday", "2026-01-02", "2026-01-02T03:04:05", "17"])
def test_a_bad_after_is_refused(client: TestClient, api, after: str) -> None:
    sandbox = api.sandbox(api.project(), api.template())
    answer = client.get(f"/v1/sandboxes/{sandbox['id']}", params={"after": after, "wait": "1"})
    assert (answer.status_code, answer.json()) == (400, AFTER_REFUSED)
    bad_wait = client.get(f"/v1/sandboxes/{sandbox['id']}", params={"wait": "100"})
    assert (bad_wait.status_code, bad_wait.json()) == (400, WAIT_REFUSED)


def test_a_newer_sandbox_answers_at_once(client: TestClient, api) -> None:
    sandbox = api.sandbox(api.project(), api.template())
    started = time.monotonic()
    for after in ("2000-01-01T00:00:00Z", "2000-01-01T01:00:00+01:00"):
        answer = client.get(f"/v1/sandboxes/{sandbox['id']}", params={"after": after, "wait": "30"})
        assert answer.status_code == 200 and answer.json() == sandbox
    assert time.monotonic() - started < 5


def test_a_sandbox_wait_ends_on_a_change(client: TestClient, api) -> None:
    sandbox = api.sandbox(api.project(), api.template())
    path = f"/v1/sandboxes/{sandbox['id']}"
    waited: list = []
    waiter = threading.Thread(
        target=lambda: waited.append(
            client.get(path, params={"after": sandbox["updatedAt"], "wait": "30"})
        )
    )
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()
    patched = client.patch(path, json={"name": "renamed"})
    assert patched.status_code == 200, patched.text
    waiter.join(20)
    assert waited and waited[0].status_code == 200
    assert waited[0].json()["name"] == "renamed"
    assert waited[0].json()["updatedAt"] > sandbox["updatedAt"]
    assert time.monotonic() - started < 10


def test_another_projects_sandbox_or_task_stays_hidden(
    secured_client: TestClient, database
) -> None:
    from tests.api.test_tokens import ADMIN, bearer, mint

    project = secured_client.post(
        "/v1/projects", json={"name": "p", "defaultNamespace": "ns"}, headers=ADMIN
    ).json()
    other = secured_client.post(
        "/v1/projects", json={"name": "q", "defaultNamespace": "ns"}, headers=ADMIN
    ).json()
    template = secured_client.post(
        "/v1/templates", json={"name": "t", "image": "x"}, headers=ADMIN
    ).json()
    sandbox = secured_client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "b"},
        headers=ADMIN,
    ).json()
    scoped = mint(
        secured_client, ADMIN, name="s", principal="s", role="viewer", projectIds=[other["id"]]
    )
    answer = secured_client.get(
        f"/v1/sandboxes/{sandbox['id']}",
        params={"wait": "5", "after": sandbox["updatedAt"]},
        headers=bearer(scoped["token"]),
    )
    assert answer.status_code == 404


def test_the_queries_and_the_header_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/v1/openapi.json").json()

    def parameters(method: str, path: str) -> dict[str, dict]:
        operation = document["paths"][path][method]
        return {(p["in"], p["name"]): p for p in operation.get("parameters", [])}

    assert ("query", "wait") in parameters("get", "/v1/tasks/{taskID}")
    assert ("query", "wait") in parameters("post", "/v1/sandboxes/{sandboxID}/tasks")
    sandbox = parameters("get", "/v1/sandboxes/{sandboxID}")
    assert ("query", "wait") in sandbox and ("query", "after") in sandbox
    for path in (
        "/v1/projects",
        "/v1/templates",
        "/v1/sandboxes",
        "/v1/projects/{projectID}/credentials",
        "/v1/templates/{templateID}/validation-runs",
        "/v1/sandboxes/{sandboxID}/tasks",
        "/v1/sandboxes/{sandboxID}/artifacts",
        "/v1/sandboxes/{sandboxID}/sessions",
    ):
        assert ("header", "Idempotency-Key") in parameters("post", path), path
    for secret_answer in ("/v1/tokens", "/v1/sandboxes/{sandboxID}/preview-links"):
        assert ("header", "Idempotency-Key") not in parameters("post", secret_answer)
    assert ("header", "Idempotency-Key") not in parameters("post", "/v1/sandboxes/{sandboxID}/stop")
