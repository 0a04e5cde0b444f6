"""The code routes' refusals, on both databases: bad input in words at its field, a
sandbox that is not running, missing or unreadable ones, and nothing written by any of
them. (Runs in real kernels: tests/sdk/test_code.py, against a live server.)"""

from __future__ import annotations

import pytest


@pytest.fixture
def sandbox(api) -> dict:
    return api.sandbox(api.project(), api.template())


def run_path(sandbox: dict) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/code/run"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "code", "code"),
        ({"code": 1}, "code", "code"),
        ({"code": "1", "timeoutSeconds": 0}, "timeoutSeconds", "timeoutSeconds"),
        ({"code": "1", "timeoutSeconds": 3601}, "timeoutSeconds", "timeoutSeconds"),
        ({"code": "1", "envVars": {"A": 1}}, "envVars.A", "envVars.A"),
        ({"code": "1", "cells": []}, "cells", "unknown field"),
    ],
)
def test_bad_bodies_are_refused_at_their_field(client, sandbox, row_counts, body, field, words):
    before = row_counts()
    answer = client.post(run_path(sandbox), json=body)
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert detail["field"] == field and words in detail["reason"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"code": "1", "language": "r"}, "language", "only python runs here"),
        ({"code": "1", "language": "python", "contextId": "c"}, "language", "not both"),
        ({"code": "1", "envVars": {"A=B": "1"}}, "env_vars", "without = or NUL"),
    ],
)
def test_what_the_kernels_refuse_is_said_in_words(client, sandbox, body, field, words):
    answer = client.post(run_path(sandbox), json=body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"] and answer.json()["detail"]["field"] == field


@pytest.mark.parametrize("accept", ["application/json", "application/x-ndjson"])
def test_a_sandbox_that_is_not_running_is_a_conflict(client, sandbox, row_counts, accept):
    before = row_counts()
    answer = client.post(run_path(sandbox), json={"code": "1"}, headers={"Accept": accept})
    assert answer.status_code == 409, answer.text  # a refusal is a status, never a stream
    assert answer.json() == {"error": "sandbox is not running"}
    contexts = f"/v1/sandboxes/{sandbox['id']}/code/contexts"
    assert client.get(contexts).status_code == 409
    assert client.post(contexts, json={"cwd": "/tmp"}).status_code == 409
    assert client.post(f"{contexts}/default/restart").status_code == 409
    assert client.delete(f"{contexts}/default").status_code == 409
    assert row_counts() == before  # no audit event for a run that never ran


def test_missing_and_malformed_sandboxes(client):
    missing = "/v1/sandboxes/00000000-0000-0000-0000-000000000000/code/run"
    assert client.post(missing, json={"code": "1"}).status_code == 404
    malformed = client.post("/v1/sandboxes/nope/code/run", json={"code": "1"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid sandbox id"


def test_a_form_post_from_another_site_is_refused(client, sandbox):
    """Attack: a page elsewhere posts a form (no preflight) to run code."""
    answer = client.post(
        run_path(sandbox), content=b"code=1", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415
    cross = client.post(
        run_path(sandbox), json={"code": "1"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403


def test_the_routes_need_a_token(secured_client):
    box = "/v1/sandboxes/00000000-0000-0000-0000-000000000001"
    for method, path in [
        ("POST", f"{box}/code/run"),
        ("GET", f"{box}/code/contexts"),
        ("POST", f"{box}/code/contexts"),
        ("DELETE", f"{box}/code/contexts/default"),
        ("POST", f"{box}/code/contexts/default/restart"),
    ]:
        answer = secured_client.request(method, path, json={"code": "1"})
        assert answer.status_code == 401, (method, path)


def test_the_openapi_document_describes_the_run(client):
    document = client.get("/v1/openapi.json").json()
    run = document["paths"]["/v1/sandboxes/{sandboxID}/code/run"]["post"]
    assert set(run["responses"]["200"]["content"]) == {"application/json", "application/x-ndjson"}
    schemas = document["components"]["schemas"]
    assert {"CodeRun", "CodeExecution", "CodeResult", "CodeError", "CodeContext"} <= set(schemas)
