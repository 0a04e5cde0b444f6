"""Templates: scope rules, defaults, validation, listing, PATCH, delete rules."""

from __future__ import annotations

import uuid

import pytest

from backend.sandboxes.models import SandboxRow
from tests.api.test_projects import report_runtime

STILL_USED = "template is still used by sandboxes; delete them before the template"


def test_create_global_template_with_defaults(api):
    template = api.template(name="Python Dev")
    assert template["slug"] == "python-dev"
    assert template["workingDir"] == "/workspace"
    assert template["networkPolicy"] == "default"
    assert template["env"] == {} and template["lifecyclePolicy"] == {}
    assert template["metadata"] == {}
    for omitted in ("projectId", "startupCommand", "cpuRequest", "exposedPorts", "secretRefs"):
        assert omitted not in template


def test_create_full_template(api):
    project = api.project()
    template = api.template(
        projectId=project["id"],
        startupCommand=["sh", "-c", "sleep infinity"],
        workingDir="/home/dev",
        cpuRequest="500m",
        memoryRequest="1Gi",
        exposedPorts=[
            {"name": "web", "port": 3000, "protocol": "tcp"},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ],
        env={"MODE": "dev"},
        secretRefs=[{"name": "git-token", "key": "token"}, {"name": "npmrc"}],
        networkPolicy="restricted",
        lifecyclePolicy={"ttlSeconds": 3600, "idleTimeoutSeconds": 600},
        metadata={"runtimeType": "Python"},
    )
    assert template["projectId"] == project["id"]
    assert template["exposedPorts"] == [
        {"name": "web", "port": 3000, "protocol": "TCP"},
        {"name": "dns", "port": 53, "protocol": "UDP"},
    ]
    assert template["secretRefs"] == [{"name": "git-token", "key": "token"}, {"name": "npmrc"}]
    assert template["lifecyclePolicy"] == {"ttlSeconds": 3600, "idleTimeoutSeconds": 600}


def test_slug_uniqueness_follows_scope(client, api):
    project, other = api.project(), api.project()
    api.template(name="Shared", slug="base")
    api.template(name="Mine", slug="base", projectId=project["id"])
    api.template(name="Theirs", slug="base", projectId=other["id"])
    again_global = client.post("/v1/templates", json={"name": "x", "slug": "base", "image": "i"})
    assert again_global.status_code == 409
    again_project = client.post(
        "/v1/templates",
        json={"name": "x", "slug": "base", "image": "i", "projectId": project["id"]},
    )
    assert again_project.status_code == 409


def test_list_scoping_and_order(client, api):
    project, other = api.project(), api.project()
    global_old, global_new = api.template(), api.template()
    mine = api.template(projectId=project["id"])
    theirs = api.template(projectId=other["id"])
    everything = [t["id"] for t in client.get("/v1/templates").json()["items"]]
    assert everything == [global_new["id"], global_old["id"], theirs["id"], mine["id"]]
    scoped = client.get("/v1/templates", params={"projectId": project["id"]}).json()["items"]
    assert [t["id"] for t in scoped] == [global_new["id"], global_old["id"], mine["id"]]
    bad = client.get("/v1/templates", params={"projectId": "zzz"})
    assert bad.status_code == 400 and bad.json() == {"error": "invalid projectId query"}


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"image": " "}, "name, valid slug, and image are required", "image"),
        ({"slug": "Bad Slug"}, "name, valid slug, and image are required", "slug"),
        (
            {"exposedPorts": [{"name": "", "port": 80}]},
            "port name is required",
            "exposedPorts[0].name",
        ),
        (
            {"exposedPorts": [{"name": "w", "port": 0}]},
            "port must be between 1 and 65535",
            "exposedPorts[0].port",
        ),
        (
            {"exposedPorts": [{"name": "a", "port": 80}, {"name": "w", "port": 70000}]},
            "port must be between 1 and 65535",
            "exposedPorts[1].port",
        ),
        (
            {"exposedPorts": [{"name": "w", "port": 80, "protocol": "SCTP"}]},
            "port protocol must be TCP or UDP",
            "exposedPorts[0].protocol",
        ),
        ({"env": {"A": 1}}, "env must be an object of string values", "env"),
        ({"env": ["A=1"]}, "env must be an object of string values", "env"),
        (
            {"env": {"1BAD": "x"}},
            'env name "1BAD" is invalid (letters, digits and _ only)',
            "env",
        ),
        (
            {"networkPolicy": "wide-open"},
            "networkPolicy must be default, restricted or open",
            "networkPolicy",
        ),
        (
            {"lifecyclePolicy": {"ttlSeconds": -5}},
            "lifecyclePolicy.ttlSeconds must be a positive integer",
            "lifecyclePolicy",
        ),
        (
            {"lifecyclePolicy": {"ttl": 5}},
            'lifecyclePolicy has unknown field "ttl" (known: ttlSeconds, idleTimeoutSeconds)',
            "lifecyclePolicy",
        ),
        (
            {"workingDir": "relative/dir"},
            "workingDir must be an absolute path without '..'",
            "workingDir",
        ),
        (
            {"startupCommand": ["sh", ""]},
            "startupCommand arguments cannot be empty",
            "startupCommand",
        ),
        ({"secretRefs": [{"key": "k"}]}, "secretRefs[].name is required", "secretRefs[0].name"),
    ],
)
def test_invalid_template_fields(client, row_counts, fields, message, field):
    before = row_counts()
    response = client.post("/v1/templates", json={"name": "T", "image": "img", **fields})
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["detail"]["field"]) == (message, field)
    assert row_counts() == before


def test_project_must_exist(client):
    response = client.post(
        "/v1/templates",
        json={"name": "T", "image": "i", "projectId": "7d1f0e2a-0000-4000-8000-000000000000"},
    )
    assert response.status_code == 404
    assert response.json() == {"error": "project not found"}


def test_patch_replaces_sent_fields_and_audits(client, api):
    template = api.template(env={"A": "1"}, exposedPorts=[{"name": "web", "port": 80}])
    path = f"/v1/templates/{template['id']}"
    response = client.patch(path, json={"image": "python:3.13", "env": {"B": "2"}, "name": None})
    assert response.status_code == 200
    updated = response.json()
    assert updated["image"] == "python:3.13"
    assert updated["env"] == {"B": "2"}
    assert updated["name"] == template["name"]
    assert updated["exposedPorts"] == template["exposedPorts"]
    for field, value in (("image", ""), ("name", " ")):
        blank = client.patch(path, json={field: value}).json()
        assert (blank["error"], blank["detail"]["field"]) == (f"{field} cannot be empty", field)
    assert client.patch(path, json={"slug": "new"}).status_code == 400
    assert client.patch(path, json={"projectId": None}).status_code == 400
    [event] = api.audit(action="template.updated")
    assert event["metadata"]["fields"] == ["env", "image", "name"]


def test_delete_in_use_is_a_conflict_that_says_why(client, api):
    project = api.project()
    template = api.template()
    sandbox = api.sandbox(project, template)
    path = f"/v1/templates/{template['id']}"
    refused = client.delete(path)
    assert refused.status_code == 409
    assert refused.json() == {"error": STILL_USED}
    assert client.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    # A deleted sandbox whose runtime is gone no longer pins its template.
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert api.audit(action="template.deleted", resourceId=template["id"])


def test_delete_waits_until_the_sandbox_runtime_is_cleaned_up(client, api, database, row_counts):
    project = api.project()
    template = api.template()
    sandbox = api.sandbox(project, template)
    ref = {"adapter": "local", "kind": "process", "namespace": "mbox-test", "name": "box"}
    report_runtime(database, sandbox, "running", status="running", runtime_ref=ref)
    assert client.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    path = f"/v1/templates/{template['id']}"
    before = row_counts()
    refused = client.delete(path)
    assert (refused.status_code, refused.json()) == (409, {"error": STILL_USED})
    assert row_counts() == before  # nothing deleted, no audit event
    report_runtime(database, sandbox, "deleted", runtime_ref=None)
    assert client.delete(path).status_code == 204
    # The history stays, without its template.
    with database.session() as db:
        kept = db.get(SandboxRow, uuid.UUID(sandbox["id"]))
        assert kept is not None and kept.template_id is None


def test_delete_clears_project_default(client, api):
    project = api.project()
    template = api.template(projectId=project["id"])
    client.patch(f"/v1/projects/{project['id']}", json={"defaultTemplateId": template["id"]})
    assert client.delete(f"/v1/templates/{template['id']}").status_code == 204
    assert "defaultTemplateId" not in client.get(f"/v1/projects/{project['id']}").json()
