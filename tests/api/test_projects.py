"""Projects: CRUD, slug derivation, defaultTemplateId, PATCH semantics, delete guard, audit."""

from __future__ import annotations

import uuid

import pytest

from backend.sandboxes import service as sandboxes


def test_create_returns_contract_shape(client):
    response = client.post(
        "/v1/projects",
        json={"name": "Payments API", "defaultNamespace": "team-payments", "metadata": {"a": 1}},
    )
    assert response.status_code == 201
    project = response.json()
    assert project["slug"] == "payments-api"
    assert project["defaultNamespace"] == "team-payments"
    assert project["metadata"] == {"a": 1}
    # Omission rules: empty repositoryUrl and null defaultTemplateId are not on the wire.
    assert "repositoryUrl" not in project and "defaultTemplateId" not in project
    assert project["createdAt"].endswith("Z") and "T" in project["createdAt"]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Hello World", "hello-world"),
        ("  Mixed_Case.Name/Here  ", "mixed-case-name-here"),
        ("émoji 🚀 rocket!!", "moji-rocket"),
        ("--edge--", "edge"),
    ],
)
def test_slug_is_derived_from_name(api, name, slug):
    assert api.project(name=name)["slug"] == slug


def test_slug_must_be_valid_and_unique(client, api):
    api.project(name="First", slug="taken")
    duplicate = client.post(
        "/v1/projects", json={"name": "Second", "slug": "taken", "defaultNamespace": "ns"}
    )
    assert duplicate.status_code == 409
    assert "taken" in duplicate.json()["error"]
    invalid = client.post(
        "/v1/projects", json={"name": "Third", "slug": "Not_Valid", "defaultNamespace": "ns"}
    )
    assert invalid.status_code == 400
    assert invalid.json() == {
        "error": "name, valid slug, and defaultNamespace are required",
        "detail": {
            "field": "slug",
            "reason": "slug must be lower-case letters, digits and '-', at most 63 characters "
            "(for example my-app)",
        },
    }


def test_list_is_newest_first_and_wrapped(client, api):
    first, second = api.project(), api.project()
    items = client.get("/v1/projects").json()["items"]
    assert [item["id"] for item in items] == [second["id"], first["id"]]


def test_patch_updates_fields_and_writes_audit(client, api):
    project = api.project(repositoryUrl="https://git.example/a.git")
    response = client.patch(
        f"/v1/projects/{project['id']}",
        json={"name": "Renamed", "repositoryUrl": "", "metadata": {"tier": "gold"}},
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["slug"] == project["slug"]  # immutable
    assert "repositoryUrl" not in updated
    assert updated["metadata"] == {"tier": "gold"}
    events = api.audit(action="project.updated", resourceId=project["id"])
    assert len(events) == 1
    assert events[0]["metadata"]["fields"] == ["metadata", "name", "repositoryUrl"]


def test_patch_null_keeps_required_fields_and_rejects_blank(client, api):
    project = api.project()
    kept = client.patch(f"/v1/projects/{project['id']}", json={"name": None})
    assert kept.status_code == 200 and kept.json()["name"] == project["name"]
    blank = client.patch(f"/v1/projects/{project['id']}", json={"name": "  "})
    assert blank.status_code == 400 and blank.json()["error"] == "name cannot be empty"
    assert blank.json()["detail"]["field"] == "name"
    blank_ns = client.patch(f"/v1/projects/{project['id']}", json={"defaultNamespace": ""})
    assert blank_ns.json()["error"] == "defaultNamespace cannot be empty"
    assert blank_ns.json()["detail"]["field"] == "defaultNamespace"
    slug = client.patch(f"/v1/projects/{project['id']}", json={"slug": "new"})
    assert slug.status_code == 400


def test_default_template_set_clear_and_checked(client, api):
    project, other = api.project(), api.project()
    global_template = api.template()
    foreign = api.template(projectId=other["id"])
    path = f"/v1/projects/{project['id']}"
    assert (
        client.patch(path, json={"defaultTemplateId": global_template["id"]}).json()[
            "defaultTemplateId"
        ]
        == global_template["id"]
    )
    # Absent keeps, null clears.
    assert "defaultTemplateId" in client.patch(path, json={"name": "x"}).json()
    assert "defaultTemplateId" not in client.patch(path, json={"defaultTemplateId": None}).json()
    missing = client.patch(path, json={"defaultTemplateId": "00000000-0000-0000-0000-000000000000"})
    assert missing.status_code == 404
    malformed = client.patch(path, json={"defaultTemplateId": "nope"})
    assert malformed.status_code == 400
    assert client.patch(path, json={"defaultTemplateId": foreign["id"]}).status_code == 400


def test_create_refuses_default_template_id(client):
    response = client.post(
        "/v1/projects",
        json={"name": "a", "defaultNamespace": "b", "defaultTemplateId": None},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid JSON request body"


def test_get_writes_no_audit_event(client, api):
    project = api.project()
    before = len(api.audit())
    assert client.get(f"/v1/projects/{project['id']}").status_code == 200
    assert client.get("/v1/projects").status_code == 200
    assert len(api.audit()) == before


def test_delete_guard_and_cascade(client, api):
    project = api.project()
    template = api.template(projectId=project["id"])
    sandbox = api.sandbox(project, template)
    path = f"/v1/projects/{project['id']}"
    refused = client.delete(path)
    assert refused.status_code == 409
    assert "sandboxes" in refused.json()["error"]
    assert client.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get(f"/v1/templates/{template['id']}").status_code == 404
    deleted = api.audit(action="project.deleted")
    assert deleted[0]["resourceId"] == project["id"] and "projectId" not in deleted[0]
    # Earlier events of the project survive, detached from it.
    assert api.audit(action="project.created", resourceId=project["id"])


def test_missing_project_is_404(client):
    response = client.get("/v1/projects/6f1c4c9e-1111-4a4a-9a9a-000000000000")
    assert response.status_code == 404
    assert response.json() == {"error": "resource not found"}


@pytest.mark.parametrize(
    ("create", "patch"),
    [
        ("/v1/projects", "/v1/projects/{id}"),
        ("/v1/templates", "/v1/templates/{id}"),
    ],
)
def test_metadata_null_means_empty(client, api, create, patch):
    resource = (
        api.project(metadata={"a": 1}) if "projects" in create else api.template(metadata={"a": 1})
    )
    response = client.patch(patch.format(id=resource["id"]), json={"metadata": None})
    assert response.status_code == 200 and response.json()["metadata"] == {}


STILL_HAS_SANDBOXES = (
    "project still has sandboxes (1 is active or deleted but awaiting runtime cleanup); "
    "delete them and wait for cleanup first"
)


def report_runtime(database, sandbox: dict, acted_on: str, **observed) -> None:
    """What the reconciler reports: a runtime started, or cleaned up after a delete."""
    with database.session() as db:
        applied = sandboxes.report_runtime(
            db, sandbox_id=uuid.UUID(sandbox["id"]), acted_on=acted_on, **observed
        )
        assert applied


def test_delete_waits_until_every_sandbox_runtime_is_cleaned_up(client, api, database, row_counts):
    project = api.project()
    template = api.template(projectId=project["id"])
    history = api.sandbox(project, template)  # deleted before it ever ran: history at once
    assert client.delete(f"/v1/sandboxes/{history['id']}").status_code == 204
    sandbox = api.sandbox(project, api.template())
    ref = {"adapter": "local", "kind": "process", "namespace": "mbox-test", "name": "box"}
    report_runtime(database, sandbox, "running", status="running", runtime_ref=ref)
    path = f"/v1/projects/{project['id']}"
    for step in ("active", "deleted, runtime not yet cleaned up"):
        before = row_counts()
        assert before["sandbox_holds"] == 1, step
        refused = client.delete(path)
        assert (refused.status_code, refused.json()["error"]) == (409, STILL_HAS_SANDBOXES)
        assert refused.json()["detail"] == {"sandboxIds": [sandbox["id"]], "count": 1}
        assert row_counts() == before, step  # nothing deleted, no audit event
        assert client.get(path).status_code == 200
        if step == "active":
            assert client.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    report_runtime(database, sandbox, "deleted", runtime_ref=None)
    assert row_counts()["sandbox_holds"] == 0
    # Its history (a sandbox of the project's own template too) goes with the project.
    assert client.delete(path).status_code == 204
    assert client.get(f"/v1/templates/{template['id']}").status_code == 404
    counts = row_counts()
    assert counts["sandboxes"] == counts["sandbox_holds"] == 0
    assert api.audit(action="project.deleted", resourceId=project["id"])
