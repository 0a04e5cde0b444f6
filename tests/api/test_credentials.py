"""Credential references over HTTP: shapes, refusals (400, 403, 404, 409), the launch
policy, project scopes, roles, audit, and that no secret value is ever taken or shown."""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import TOKEN

INVALID = "name, valid slug, type, and secretRef.name are required"
SECRET_LOOKING = "hunter2-value-never-stored"


def credential(**fields) -> dict:
    return {
        "name": "Deploy key",
        "type": "ssh",
        "target": "  github.com/acme  ",
        "secretRef": {"name": "deploy-keys", "key": "id_ed25519"},
        "usage": [" sandbox ", "clone", "sandbox", ""],
        "metadata": {"team": "infra"},
        **fields,
    }


def create(client: TestClient, project: dict, **fields):
    return client.post(f"/v1/projects/{project['id']}/credentials", json=credential(**fields))


def test_create_get_list_delete(client, api):
    project = api.project()
    response = create(client, project)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["projectId"] == project["id"]
    assert (made["name"], made["slug"], made["type"]) == ("Deploy key", "deploy-key", "ssh")
    assert made["target"] == "github.com/acme"
    assert made["secretRef"] == {"name": "deploy-keys", "key": "id_ed25519"}
    assert made["usage"] == ["sandbox", "clone"]
    assert made["metadata"] == {"team": "infra"}
    assert set(made) == {
        "id", "projectId", "name", "slug", "type", "target", "secretRef", "usage",
        "metadata", "createdAt", "updatedAt",
    }  # fmt: skip
    second = create(client, project, name="Registry", type="registry", secretRef={"name": "r"})
    assert second.status_code == 201 and "key" not in second.json()["secretRef"]
    listed = client.get(f"/v1/projects/{project['id']}/credentials").json()["items"]
    assert [item["id"] for item in listed] == [second.json()["id"], made["id"]]  # newest first
    assert client.get(f"/v1/credentials/{made['id']}").json() == made
    assert client.delete(f"/v1/credentials/{made['id']}").status_code == 204
    assert client.get(f"/v1/credentials/{made['id']}").status_code == 404
    assert client.delete(f"/v1/credentials/{made['id']}").status_code == 404


def test_usage_counts_the_credentials(client, api):
    project = api.project()
    create(client, project)
    create(client, project, name="Git", type="git", secretRef={"name": "git"})
    usage = client.get(f"/v1/projects/{project['id']}/usage").json()["credentials"]
    assert usage == {"total": 2, "git": 1, "registry": 0, "kubernetes": 0, "ssh": 1, "generic": 0}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "!!!"}, "slug"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"type": "password"}, "type"),
        ({"type": None}, "type"),
        ({"secretRef": None}, "secretRef.name"),
        ({"secretRef": {"name": " "}}, "secretRef.name"),
        ({"secretRef": {"name": "UPPER"}}, "secretRef.name"),
        ({"secretRef": {"name": "a" * 254}}, "secretRef.name"),
        ({"secretRef": {"name": "ok", "key": "a/b"}}, "secretRef.key"),
        ({"secretRef": {"name": "ok", "key": "k" * 254}}, "secretRef.key"),
    ],
)
def test_invalid_input_is_the_400_naming_the_field(client, api, row_counts, fields, field):
    project = api.project()
    before = row_counts()
    response = create(client, project, **fields)
    assert response.status_code == 400
    assert response.json()["error"] == INVALID
    assert response.json()["detail"]["field"] == field
    assert row_counts() == before  # nothing changed


@pytest.mark.parametrize(
    "ref",
    [
        {"name": "../../etc"},
        {"name": "/abs"},
        {"name": "/etc/shadow"},
        {"name": ".."},
        {"name": "ok/../../etc"},
        {"name": "ok", "key": ".."},
        {"name": "ok", "key": "."},
        {"name": "ok", "key": "../../etc/shadow"},
        {"name": "ok", "key": "/etc/shadow"},
        {"name": "ok", "key": "..data"},
        {"name": "ok", "key": "k\nx"},
    ],
)
def test_attack_a_secret_ref_that_is_a_path_is_refused(client, api, row_counts, ref):
    """A reference must be a name: a runtime joins it under its secrets, so a path in it
    would read outside them."""
    project = api.project()
    before = row_counts()
    response = create(client, project, secretRef=ref)
    assert response.status_code == 400 and response.json()["error"] == INVALID
    assert response.json()["detail"]["field"] in ("secretRef.name", "secretRef.key")
    assert row_counts() == before


def test_there_is_no_value_field(client, api, row_counts):
    project = api.project()
    before = row_counts()
    for extra in ({"value": SECRET_LOOKING}, {"secretRef": {"name": "x", "value": "v"}}):
        response = create(client, project, **extra)
        assert response.status_code == 400
    assert row_counts() == before


def test_invalid_ids_and_missing_things(client, api):
    assert client.get("/v1/credentials/not-a-uuid").json() == {"error": "invalid credential id"}
    assert client.delete("/v1/credentials/not-a-uuid").status_code == 400
    assert client.get(f"/v1/credentials/{uuid.uuid4()}").status_code == 404
    missing = {"id": str(uuid.uuid4())}
    assert create(client, missing).status_code == 404
    assert client.get(f"/v1/projects/{missing['id']}/credentials").status_code == 404
    bad = client.post("/v1/projects/nope/credentials", json=credential())
    assert bad.json() == {"error": "invalid project id"}


def test_a_duplicate_slug_is_a_conflict_in_its_project_only(client, api, row_counts):
    project, other = api.project(), api.project()
    assert create(client, project).status_code == 201
    before = row_counts()
    again = create(client, project, name="deploy KEY")
    assert again.status_code == 409 and "deploy-key" in again.json()["error"]
    assert row_counts() == before
    assert create(client, other).status_code == 201


def test_enforced_launch_policy_allows_only_its_secrets(client, api, row_counts):
    project = api.project()
    policy = {"enforcement": "enforced", "allowedSecretRefs": ["deploy-keys"]}
    assert client.put(f"/v1/projects/{project['id']}/policy", json=policy).status_code == 200
    assert create(client, project).status_code == 201
    before = row_counts()
    denied = create(client, project, name="Other", secretRef={"name": "prod-db"})
    assert denied.status_code == 403
    assert denied.json()["error"] == 'policy denied: secretRef "prod-db" is not allowed'
    after = row_counts()
    assert after["project_credentials"] == before["project_credentials"]
    [event] = [
        e
        for e in client.get(f"/v1/projects/{project['id']}/audit-events").json()["items"]
        if e["action"] == "policy.denied"
    ]
    assert event["metadata"]["operation"] == "credential.create"
    assert event["resourceType"] == "project-credential"


def test_audit_names_the_secret_never_a_value(client, api):
    project = api.project()
    made = create(client, project).json()
    assert client.delete(f"/v1/credentials/{made['id']}").status_code == 204
    events = client.get(f"/v1/projects/{project['id']}/audit-events").json()["items"]
    by_action = {event["action"]: event for event in events}
    created = by_action["project.credential.created"]
    assert created["resourceType"] == "project-credential"
    assert created["resourceId"] == made["id"] and created["resourceName"] == "deploy-key"
    metadata = created["metadata"]
    assert (metadata["type"], metadata["target"], metadata["secretRef"]) == (
        "ssh",
        "github.com/acme",
        "deploy-keys",
    )
    deleted = by_action["project.credential.deleted"]
    assert deleted["resourceId"] == made["id"]


def token(client: TestClient, role: str, projects: list[dict] | None = None) -> TestClient:
    body = {"name": f"{role} token", "principal": "bob", "role": role}
    if projects is not None:
        body["projectIds"] = [project["id"] for project in projects]
    made = client.post("/v1/tokens", json=body)
    assert made.status_code == 201, made.text
    return TestClient(client.app, headers={"Authorization": f"Bearer {made.json()['token']}"})


@pytest.fixture
def admin(secured_client: TestClient) -> TestClient:
    secured_client.headers["Authorization"] = f"Bearer {TOKEN}"
    return secured_client


def test_a_project_scoped_token_sees_only_its_projects_credentials(admin):
    mine = admin.post("/v1/projects", json={"name": "Mine", "defaultNamespace": "a"}).json()
    theirs = admin.post("/v1/projects", json={"name": "Theirs", "defaultNamespace": "b"}).json()
    hidden = create(admin, theirs).json()
    bob = token(admin, "operator", [mine])
    assert bob.get(f"/v1/credentials/{hidden['id']}").status_code == 404
    assert bob.delete(f"/v1/credentials/{hidden['id']}").status_code == 404
    assert bob.get(f"/v1/projects/{theirs['id']}/credentials").status_code == 404
    assert create(bob, theirs).status_code == 404
    assert admin.get(f"/v1/credentials/{hidden['id']}").status_code == 200  # still there
    assert create(bob, mine).status_code == 201
    assert len(bob.get(f"/v1/projects/{mine['id']}/credentials").json()["items"]) == 1


@pytest.mark.parametrize("role", ["viewer", "developer", "auditor"])
def test_only_governing_roles_create_or_delete(admin, row_counts, role):
    project = admin.post("/v1/projects", json={"name": "P", "defaultNamespace": "a"}).json()
    made = create(admin, project).json()
    someone = token(admin, role)
    before = row_counts()
    refused = create(someone, project, name="Another")
    assert refused.status_code == 403 and refused.json()["error"].startswith("forbidden")
    assert someone.delete(f"/v1/credentials/{made['id']}").status_code == 403
    assert someone.get(f"/v1/credentials/{made['id']}").status_code == 200  # reads are fine
    counts = row_counts()
    assert counts["project_credentials"] == before["project_credentials"]


def test_no_secret_value_anywhere(client, api, database):
    """Whatever a client sends, what is stored and shown is names: a value sent in
    metadata is the client's own business, but no field of mbox holds one."""
    project = api.project()
    made = create(client, project).json()
    shown = json.dumps(
        [
            made,
            client.get(f"/v1/projects/{project['id']}/credentials").json(),
            client.get(f"/v1/projects/{project['id']}/audit-events").json(),
        ]
    )
    assert SECRET_LOOKING not in shown
    schema = client.get("/v1/openapi.json").json()["components"]["schemas"]
    for name in ("ProjectCredential", "ProjectCredentialCreate"):
        assert not {"value", "data", "secret"} & set(schema[name]["properties"])


def test_the_boundary_lists_credentials_and_where_sandboxes_find_them(client, api):
    project = api.project()
    create(client, project)  # usage lists "sandbox"
    create(client, project, name="Clone", type="git", secretRef={"name": "git"}, usage=["clone"])
    sandbox = api.sandbox(project, api.template())
    summary = client.get(f"/v1/sandboxes/{sandbox['id']}/boundary").json()
    refs = {ref["slug"]: ref for ref in summary["credentialRefs"]}
    assert refs["deploy-key"]["mountPath"] == "/run/secrets/mbox/deploy-key"
    assert refs["deploy-key"]["secretRef"] == "deploy-keys"
    assert "mountPath" not in refs["clone"]
    assert summary["credentialProjection"] == "mounted-read-only"
    [check] = [c for c in summary["checks"] if c["id"] == "credential-refs"]
    assert check["status"] == "warn"
    assert check["evidence"] == ["clone", "deploy-key: /run/secrets/mbox/deploy-key"]
    assert "MBOX_SECRETS_DIR" in check["message"] and "1 are recorded" in check["message"]


def test_a_launch_is_refused_while_a_mounted_credential_breaks_the_policy(client, api):
    """Policy on every path: a credential created before the policy was enforced is mounted
    into every sandbox of the project, so launching one is held to the same allowed list."""
    project = api.project()
    template = api.template(projectId=project["id"])
    mounted = {"name": "prod-db"}
    assert (
        create(client, project, name="Db", secretRef=mounted, usage=["sandbox"]).status_code == 201
    )
    assert (
        create(client, project, name="Ci", secretRef={"name": "ci"}, usage=["clone"]).status_code
        == 201
    )  # not mounted
    policy = {"enforcement": "enforced", "allowedSecretRefs": ["deploy-keys"]}
    assert client.put(f"/v1/projects/{project['id']}/policy", json=policy).status_code == 200
    denied = client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    assert denied.status_code == 403, denied.text
    assert denied.json()["error"] == 'policy denied: credential secret "prod-db" is not allowed'
    [rule] = denied.json()["denial"]["rules"]
    assert rule["rule"] == "allowedSecretRefs" and rule["value"] == "prod-db"
    policy["allowedSecretRefs"].append("prod-db")
    assert client.put(f"/v1/projects/{project['id']}/policy", json=policy).status_code == 200
    allowed = client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    assert allowed.status_code == 201, allowed.text
