"""Sandboxes: launch defaults, policy and quota, server-owned fields, lifecycle, soft delete."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.auth.models import Principal
from backend.errors import PolicyDenied
from backend.policy.models import ProjectPolicyRow, ProjectQuotaPolicyRow
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxCreate


def test_launch_applies_reference_defaults(api):
    project = api.project(defaultNamespace="team-a")
    template = api.template(exposedPorts=[{"name": "web", "port": 3000}])
    sandbox = api.sandbox(project, template, name="Feature Branch #12")
    assert sandbox["slug"] == "feature-branch-12"
    assert sandbox["status"] == "pending"
    assert sandbox["namespace"] == "team-a"
    assert sandbox["serviceAccountName"] == "mbox-sandbox"
    assert sandbox["ports"] == [{"name": "web", "port": 3000, "protocol": "TCP"}]
    assert sandbox["metadata"] == {}
    assert "runtimeRef" not in sandbox and "deletedAt" not in sandbox
    [event] = api.audit(action="sandbox.created")
    assert event["metadata"]["templateId"] == template["id"]
    assert event["metadata"]["declaredPreviewPorts"] == 1


def test_template_comes_from_project_default(client, api):
    project = api.project()
    template = api.template()
    missing = client.post("/v1/sandboxes", json={"projectId": project["id"], "name": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "templateId is required unless project has defaultTemplateId",
        "detail": {"field": "templateId"},
    }
    client.patch(f"/v1/projects/{project['id']}", json={"defaultTemplateId": template["id"]})
    assert api.sandbox(project)["templateId"] == template["id"]


def test_explicit_namespace_and_identity_are_validated(client, api):
    project, template = api.project(), api.template()
    sandbox = api.sandbox(project, template, namespace="custom-ns", serviceAccountName="runner")
    assert (sandbox["namespace"], sandbox["serviceAccountName"]) == ("custom-ns", "runner")
    bad = client.post(
        "/v1/sandboxes",
        json={
            "projectId": project["id"],
            "templateId": template["id"],
            "name": "x",
            "namespace": "Kube_System",
        },
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith(
        'namespace "Kube_System" is not a DNS label'
    )
    assert bad.json()["detail"] == {"field": "namespace"}


def test_slugs_are_unique_among_active_sandboxes_of_a_project(client, api):
    project, other, template = api.project(), api.project(), api.template()
    first = api.sandbox(project, template, slug="dev")
    api.sandbox(other, template, slug="dev")
    clash = client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template["id"], "name": "x", "slug": "dev"},
    )
    assert clash.status_code == 409
    client.delete(f"/v1/sandboxes/{first['id']}")
    assert api.sandbox(project, template, slug="dev")["slug"] == "dev"


def test_template_of_another_project_is_denied_and_audited(client, api, row_counts):
    project, other = api.project(), api.project()
    foreign = api.template(projectId=other["id"])
    before = row_counts()
    response = client.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": foreign["id"], "name": "sneaky"},
        headers={"X-Mbox-Request-ID": "deny-1"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "policy denied: template belongs to a different project"
    after = row_counts()
    assert after["sandboxes"] == before["sandboxes"]
    assert after["audit_events"] == before["audit_events"] + 1
    [event] = api.audit(action="policy.denied")
    assert event["resourceType"] == "sandbox" and event["resourceName"] == "sneaky"
    assert event["metadata"]["operation"] == "sandbox.launch"
    assert event["metadata"]["reason"] == "template belongs to a different project"
    assert event["metadata"]["requestId"] == "deny-1"
    assert api.audit(operation="sandbox.launch") == [event]


def test_enforced_launch_policy_collects_every_violation(client, api, database):
    project = api.project()
    template = api.template(image="docker.io/evil:latest", secretRefs=[{"name": "prod-db"}])
    with database.session() as db:
        db.add(
            ProjectPolicyRow(
                project_id=uuid.UUID(project["id"]),
                enforcement="enforced",
                allowed_image_prefixes=["ghcr.io/acme/"],
                allowed_service_accounts=["mbox-sandbox"],
            )
        )
        db.commit()
    response = client.post(
        "/v1/sandboxes",
        json={
            "projectId": project["id"],
            "templateId": template["id"],
            "name": "x",
            "serviceAccountName": "admin",
        },
    )
    assert response.status_code == 403
    assert response.json()["error"] == (
        'policy denied: image "docker.io/evil:latest" is not allowed; '
        'serviceAccountName "admin" is not allowed; secretRef "prod-db" is not allowed'
    )


def test_active_sandbox_quota(client, api, database):
    project, template = api.project(), api.template()
    with database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(project["id"]), enforcement="enforced", max_active_sandboxes=1
            )
        )
        db.commit()
    first = api.sandbox(project, template)
    payload = {"projectId": project["id"], "templateId": template["id"], "name": "second"}
    refused = client.post("/v1/sandboxes", json=payload)
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "policy denied: active sandbox quota exceeded: maxActiveSandboxes=1 active=1"
    )
    client.delete(f"/v1/sandboxes/{first['id']}")
    assert client.post("/v1/sandboxes", json=payload).status_code == 201


@pytest.mark.parametrize("field", ["status", "runtimeRef"])
def test_server_owned_fields_are_refused(client, api, field):
    sandbox = api.sandbox(api.project(), api.template())
    value = (
        "running"
        if field == "status"
        else {"adapter": "a", "kind": "k", "namespace": "n", "name": "x"}
    )
    response = client.patch(f"/v1/sandboxes/{sandbox['id']}", json={field: value})
    assert response.status_code == 400
    assert response.json() == {
        "error": f"{field} is managed by the server and cannot be set by clients"
    }
    create = client.post(
        "/v1/sandboxes", json={"projectId": sandbox["projectId"], "name": "y", field: value}
    )
    assert create.status_code == 400


def test_patch_name_ports_metadata_and_audit(client, api):
    sandbox = api.sandbox(api.project(), api.template())
    path = f"/v1/sandboxes/{sandbox['id']}"
    response = client.patch(
        path,
        json={
            "name": "Renamed",
            "ports": [
                {"name": "api", "port": 8080},
                {"name": "docs", "port": 8000, "previewUrl": "https://docs.example"},
            ],
            "metadata": {"owner": "ana"},
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Renamed" and updated["slug"] == sandbox["slug"]
    assert updated["ports"] == [
        {"name": "api", "port": 8080, "protocol": "TCP"},
        {"name": "docs", "port": 8000, "protocol": "TCP", "previewUrl": "https://docs.example"},
    ]
    assert client.patch(path, json={"ports": [{"name": "a", "port": 99999}]}).status_code == 400
    blank = client.patch(path, json={"name": ""}).json()
    assert (blank["error"], blank["detail"]["field"]) == ("name cannot be empty", "name")
    [event] = api.audit(action="sandbox.updated")
    assert event["metadata"]["fields"] == ["metadata", "name", "ports"]


def test_start_stop_and_soft_delete(client, api):
    project = api.project()
    sandbox = api.sandbox(project, api.template())
    path = f"/v1/sandboxes/{sandbox['id']}"
    stopped = client.post(f"{path}/stop", headers={"Content-Type": "application/json"})
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["statusReason"] == "user"
    started = client.post(f"{path}/start")
    assert started.json()["status"] == "pending" and "statusReason" not in started.json()
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.post(f"{path}/start").status_code == 404
    assert client.get("/v1/sandboxes", params={"projectId": project["id"]}).json() == {"items": []}
    actions = [e["action"] for e in api.audit(resourceId=sandbox["id"])]
    assert actions == ["sandbox.deleted", "sandbox.started", "sandbox.stopped", "sandbox.created"]


def test_list_filters_by_project(client, api):
    project, other, template = api.project(), api.project(), api.template()
    mine = api.sandbox(project, template)
    api.sandbox(other, template)
    listed = client.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"]
    assert [s["id"] for s in listed] == [mine["id"]]
    assert len(client.get("/v1/sandboxes").json()["items"]) == 2


def test_concurrent_launches_cannot_exceed_the_quota(api, database):
    """Launches of one project are serialised, so a quota of 2 holds under a burst of 8."""
    project, template = api.project(), api.template()
    with database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(project["id"]), enforcement="enforced", max_active_sandboxes=2
            )
        )
        db.commit()

    def launch(index: int) -> str:
        data = SandboxCreate.model_validate(
            {"projectId": project["id"], "templateId": template["id"], "name": f"burst {index}"}
        )
        with database.session() as db:
            try:
                sandboxes.create_sandbox(db, principal=Principal("test"), data=data)
            except PolicyDenied:
                return "denied"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(launch, range(8)))
    assert sorted(outcomes) == ["created"] * 2 + ["denied"] * 6
