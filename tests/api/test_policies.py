"""Project launch and quota policies: defaults, full replacement, validation, audit, and
that launches obey what was written (SQLite and Postgres)."""

from __future__ import annotations

import uuid

import pytest

NEVER = "0001-01-01T00:00:00Z"


def test_defaults_until_written(client, api):
    project = api.project()
    policy = client.get(f"/v1/projects/{project['id']}/policy")
    assert policy.status_code == 200
    assert policy.json() == {
        "projectId": project["id"],
        "enforcement": "disabled",
        "createdAt": NEVER,
        "updatedAt": NEVER,
    }
    quota = client.get(f"/v1/projects/{project['id']}/quota-policy")
    assert quota.status_code == 200
    assert quota.json() == {
        "projectId": project["id"],
        "enforcement": "disabled",
        "createdAt": NEVER,
        "updatedAt": NEVER,
    }


def test_launch_policy_is_replaced_whole_and_audited(client, api):
    project = api.project()
    path = f"/v1/projects/{project['id']}/policy"
    written = client.put(
        path,
        json={
            "enforcement": "enforced",
            "allowedImagePrefixes": [" ghcr.io/acme/ ", "", "ghcr.io/acme/", "python:"],
            "allowedSecretRefs": ["db"],
        },
    )
    assert written.status_code == 200, written.text
    body = written.json()
    assert body["allowedImagePrefixes"] == ["ghcr.io/acme/", "python:"]
    assert body["allowedSecretRefs"] == ["db"]
    assert "allowedServiceAccounts" not in body
    assert body["createdAt"] != NEVER and client.get(path).json() == body

    again = client.put(path, json={"enforcement": "disabled"}).json()
    assert again["enforcement"] == "disabled" and "allowedImagePrefixes" not in again
    assert again["createdAt"] == body["createdAt"]
    [latest, first] = api.audit(action="project.policy.updated")
    assert first["resourceId"] == project["id"]
    assert first["metadata"]["allowedImagePrefixes"] == ["ghcr.io/acme/", "python:"]
    assert first["metadata"]["allowedSecretRefCount"] == 1
    assert latest["metadata"]["enforcement"] == "disabled"


def test_enforced_launch_policy_refuses_launches(client, api):
    project, template = api.project(), api.template(image="docker.io/evil:1")
    client.put(
        f"/v1/projects/{project['id']}/policy",
        json={"enforcement": "enforced", "allowedImagePrefixes": ["ghcr.io/"]},
    )
    payload = {"projectId": project["id"], "templateId": template["id"], "name": "x"}
    refused = client.post("/v1/sandboxes", json=payload)
    assert refused.status_code == 403
    assert refused.json()["error"] == 'policy denied: image "docker.io/evil:1" is not allowed'


def test_quota_policy_limits_launches(client, api):
    project, template = api.project(), api.template()
    path = f"/v1/projects/{project['id']}/quota-policy"
    written = client.put(path, json={"enforcement": "enforced", "maxActiveSandboxes": 1})
    assert written.status_code == 200, written.text
    assert written.json()["maxActiveSandboxes"] == 1
    assert "maxRetainedArtifactBytes" not in written.json()
    api.sandbox(project, template)
    payload = {"projectId": project["id"], "templateId": template["id"], "name": "second"}
    refused = client.post("/v1/sandboxes", json=payload)
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "policy denied: active sandbox quota exceeded: maxActiveSandboxes=1 active=1"
    )
    [event] = api.audit(action="project.quota_policy.updated")
    assert event["metadata"] | {"requestId": ""} == {
        "requestId": "",
        "enforcement": "enforced",
        "maxActiveSandboxes": 1,
        "maxRetainedArtifactBytes": None,
    }
    client.put(path, json={"enforcement": "disabled"})
    assert client.post("/v1/sandboxes", json=payload).status_code == 201


@pytest.mark.parametrize(
    ("route", "payload", "message"),
    [
        ("policy", {}, "enforcement must be disabled or enforced"),
        ("policy", {"enforcement": "strict"}, "enforcement must be disabled or enforced"),
        ("quota-policy", {"enforcement": "on"}, "enforcement must be disabled or enforced"),
        (
            "quota-policy",
            {"enforcement": "enforced", "maxActiveSandboxes": -1},
            "maxActiveSandboxes cannot be negative",
        ),
        (
            "quota-policy",
            {"enforcement": "enforced", "maxRetainedArtifactBytes": -5},
            "maxRetainedArtifactBytes cannot be negative",
        ),
    ],
)
def test_bad_policies_change_nothing(client, api, row_counts, route, payload, message):
    project = api.project()
    before = row_counts()
    response = client.put(f"/v1/projects/{project['id']}/{route}", json=payload)
    assert response.status_code == 400
    field = next(iter(payload.keys() - {"enforcement"}), "enforcement")
    assert response.json() == {"error": message, "detail": {"field": field}}
    assert row_counts() == before


@pytest.mark.parametrize("route", ["policy", "quota-policy"])
def test_unknown_project_and_bad_bodies(client, route):
    missing = f"/v1/projects/{uuid.uuid4()}/{route}"
    assert client.get(missing).status_code == 404
    assert client.put(missing, json={"enforcement": "disabled"}).status_code == 404
    assert client.get(f"/v1/projects/nope/{route}").json() == {"error": "invalid project id"}
    project = client.post("/v1/projects", json={"name": "P", "defaultNamespace": "p"}).json()
    unknown = client.put(
        f"/v1/projects/{project['id']}/{route}", json={"enforcement": "disabled", "x": 1}
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid JSON request body"
