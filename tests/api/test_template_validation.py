"""Template validation runs: launch a validation sandbox, decide it, the reference's messages,
launch policy and quota, audit, and nothing half-created on refusal."""

from __future__ import annotations

import uuid

import pytest

from backend.policy.models import ProjectPolicyRow, ProjectQuotaPolicyRow


def runs(template: dict) -> str:
    return f"/v1/templates/{template['id']}/validation-runs"


def decision(template: dict, sandbox: dict) -> str:
    return f"{runs(template)}/{sandbox['id']}/decision"


def test_run_of_a_project_template_launches_a_validation_sandbox(client, api):
    project = api.project()
    template = api.template(
        name="Node web",
        projectId=project["id"],
        exposedPorts=[{"name": "web", "port": 3000}],
        metadata={"runtimeType": "Node.js"},
    )
    response = client.post(runs(template), json={"metadata": {"ticket": "OPS-7"}})
    assert response.status_code == 201, response.text
    run = response.json()
    sandbox, updated = run["sandbox"], run["template"]
    assert sandbox["projectId"] == project["id"] and sandbox["templateId"] == template["id"]
    assert sandbox["name"] == "Validate Node web"
    assert sandbox["slug"].startswith("validate-node-web-")
    assert sandbox["status"] == "pending"
    assert sandbox["namespace"] == "mbox-test" and sandbox["serviceAccountName"] == "mbox-sandbox"
    assert sandbox["ports"] == [{"name": "web", "port": 3000, "protocol": "TCP"}]
    started = sandbox["metadata"]["validationStartedAt"]
    assert sandbox["metadata"] == {
        "ticket": "OPS-7",
        "purpose": "environment-validation",
        "templateId": template["id"],
        "validationStatus": "testing",
        "validationStartedAt": started,
    }
    assert updated["metadata"] == {
        "runtimeType": "Node.js",
        "validationStatus": "testing",
        "validationSandboxId": sandbox["id"],
        "validationStartedAt": started,
    }
    assert client.get(f"/v1/templates/{template['id']}").json() == updated
    assert client.get(f"/v1/sandboxes/{sandbox['id']}").json()["metadata"] == sandbox["metadata"]


def test_run_of_a_global_template_names_its_project(client, api):
    project, template = api.project(), api.template()
    response = client.post(runs(template), json={"projectId": project["id"], "name": " Smoke "})
    assert response.status_code == 201, response.text
    assert response.json()["sandbox"]["projectId"] == project["id"]
    assert response.json()["sandbox"]["name"] == "Smoke"
    assert response.json()["sandbox"]["slug"].startswith("smoke-")


def test_run_names_are_cut_and_runs_of_one_template_get_distinct_slugs(client, api):
    project = api.project()
    template = api.template(name="x" * 80, projectId=project["id"])
    first = client.post(runs(template), json={}).json()["sandbox"]
    second = client.post(runs(template), json={}).json()["sandbox"]
    assert first["name"] == ("Validate " + "x" * 80)[:58]
    assert first["slug"] != second["slug"]
    assert len(first["slug"]) <= 63


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"metadata": ["not", "an", "object"]}, "metadata must be a JSON object"),
        ({"metadata": "text"}, "metadata must be a JSON object"),
        ({"projectId": "nope"}, "projectId must be a project UUID"),
        ({"unknown": 1}, "invalid JSON request body"),
    ],
)
def test_bad_run_bodies_are_refused(client, api, row_counts, payload, message):
    template = api.template(projectId=api.project()["id"])
    before = row_counts()
    response = client.post(runs(template), json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert row_counts() == before


def test_run_needs_a_body(client, api):
    template = api.template(projectId=api.project()["id"])
    response = client.post(runs(template), content=b"")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid JSON request body"


def test_run_project_must_match_the_template_scope(client, api, row_counts):
    project, other = api.project(), api.project()
    scoped, shared = api.template(projectId=project["id"]), api.template()
    before = row_counts()
    mismatch = client.post(runs(scoped), json={"projectId": other["id"]})
    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "projectId must match template scope"
    missing = client.post(runs(shared), json={})
    assert missing.status_code == 400
    assert missing.json()["error"] == "projectId is required for global template validation"
    assert row_counts() == before
    same = client.post(runs(scoped), json={"projectId": project["id"]})
    assert same.status_code == 201


def test_run_of_unknown_things_is_404_and_bad_ids_400(client, api, row_counts):
    template = api.template()
    before = row_counts()
    no_project = client.post(runs(template), json={"projectId": str(uuid.uuid4())})
    assert no_project.status_code == 404
    assert no_project.json()["error"] == "project not found"
    no_template = client.post(f"/v1/templates/{uuid.uuid4()}/validation-runs", json={})
    assert no_template.status_code == 404
    assert no_template.json()["error"] == "resource not found"
    bad_id = client.post("/v1/templates/not-a-uuid/validation-runs", json={})
    assert bad_id.status_code == 400
    assert bad_id.json()["error"] == "invalid template id"
    assert row_counts() == before


def test_launch_policy_denies_a_run_and_audits_it(client, api, database, row_counts):
    project = api.project()
    template = api.template(image="docker.io/evil:latest", projectId=project["id"])
    with database.session() as db:
        db.add(
            ProjectPolicyRow(
                project_id=uuid.UUID(project["id"]),
                enforcement="enforced",
                allowed_image_prefixes=["ghcr.io/acme/"],
            )
        )
        db.commit()
    before = row_counts()
    response = client.post(runs(template), json={})
    assert response.status_code == 403
    assert response.json()["error"] == 'policy denied: image "docker.io/evil:latest" is not allowed'
    after = row_counts()
    assert after["sandboxes"] == before["sandboxes"]
    assert after["audit_events"] == before["audit_events"] + 1
    [event] = api.audit(action="policy.denied")
    assert event["resourceType"] == "template" and event["resourceName"] == template["slug"]
    assert event["projectId"] == project["id"]
    assert event["metadata"]["operation"] == "template.validation"
    assert event["metadata"]["templateId"] == template["id"]
    assert event["metadata"]["image"] == "docker.io/evil:latest"
    assert event["metadata"]["serviceAccountName"] == "mbox-sandbox"
    stored = client.get(f"/v1/templates/{template['id']}").json()
    assert "validationStatus" not in stored["metadata"]


def test_active_sandbox_quota_holds_for_runs(client, api, database, row_counts):
    """Better than the reference: a validation run counts against the sandbox quota."""
    project = api.project()
    template = api.template(projectId=project["id"])
    with database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(project["id"]), enforcement="enforced", max_active_sandboxes=1
            )
        )
        db.commit()
    assert client.post(runs(template), json={}).status_code == 201
    before = row_counts()
    refused = client.post(runs(template), json={})
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "policy denied: active sandbox quota exceeded: maxActiveSandboxes=1 active=1"
    )
    assert row_counts()["sandboxes"] == before["sandboxes"]
    [event] = api.audit(action="policy.denied")
    assert event["metadata"]["operation"] == "template.validation"


def test_decision_records_the_verdict_on_template_and_run(client, api):
    project = api.project()
    template = api.template(projectId=project["id"], metadata={"useCase": "web"})
    run = client.post(runs(template), json={}).json()
    sandbox = run["sandbox"]
    response = client.post(decision(template, sandbox), json={"status": "passed"})
    assert response.status_code == 200, response.text
    decided = response.json()
    decided_at = decided["template"]["metadata"]["validationDecidedAt"]
    assert decided["template"]["metadata"] == {
        "useCase": "web",
        "validationStatus": "passed",
        "validationSandboxId": sandbox["id"],
        "validationStartedAt": sandbox["metadata"]["validationStartedAt"],
        "validationDecidedAt": decided_at,
    }
    assert decided["sandbox"]["metadata"] == {
        **sandbox["metadata"],
        "validationResult": "passed",
        "validationDecidedAt": decided_at,
    }
    again = client.post(decision(template, sandbox), json={"status": "failed"}).json()
    assert again["template"]["metadata"]["validationStatus"] == "failed"
    assert again["sandbox"]["metadata"]["validationResult"] == "failed"


@pytest.mark.parametrize("payload", [{}, {"status": "maybe"}, {"status": "PASSED"}])
def test_decision_status_must_be_passed_or_failed(client, api, row_counts, payload):
    template = api.template(projectId=api.project()["id"])
    sandbox = client.post(runs(template), json={}).json()["sandbox"]
    before = row_counts()
    response = client.post(decision(template, sandbox), json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == "status must be passed or failed"
    assert row_counts() == before


def test_decision_refuses_sandboxes_that_are_not_runs_of_the_template(client, api, database):
    project = api.project()
    template = api.template(projectId=project["id"])
    other = api.template(projectId=project["id"])
    run = client.post(runs(template), json={}).json()["sandbox"]
    plain = api.sandbox(project, template)
    cases = [
        (other, run, "validation sandbox does not belong to template"),
        (template, plain, "sandbox is not a template validation run"),
    ]
    for owner, sandbox, message in cases:
        response = client.post(decision(owner, sandbox), json={"status": "passed"})
        assert response.status_code == 400
        assert response.json()["error"] == message
    forged = api.sandbox(
        project,
        template,
        metadata={"purpose": "environment-validation", "templateId": other["id"]},
    )
    response = client.post(decision(template, forged), json={"status": "passed"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation sandbox template metadata does not match"


def test_decision_on_missing_things_is_404(client, api):
    template = api.template(projectId=api.project()["id"])
    sandbox = client.post(runs(template), json={}).json()["sandbox"]
    gone_template = {"id": str(uuid.uuid4())}
    gone_sandbox = {"id": str(uuid.uuid4())}
    for owner, run in ((gone_template, sandbox), (template, gone_sandbox)):
        response = client.post(decision(owner, run), json={"status": "passed"})
        assert response.status_code == 404
        assert response.json()["error"] == "resource not found"
    client.delete(f"/v1/sandboxes/{sandbox['id']}")
    deleted = client.post(decision(template, sandbox), json={"status": "passed"})
    assert deleted.status_code == 404
    bad = client.post(f"{runs(template)}/not-a-uuid/decision", json={"status": "passed"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid sandbox id"


def test_runs_and_decisions_are_audited(client, api):
    project = api.project()
    template = api.template(projectId=project["id"])
    sandbox = client.post(runs(template), json={}, headers={"X-Mbox-Request-ID": "val-1"}).json()[
        "sandbox"
    ]
    client.post(decision(template, sandbox), json={"status": "failed"})
    [started] = api.audit(action="template.validation.started")
    assert started["resourceType"] == "template" and started["resourceId"] == template["id"]
    assert started["projectId"] == project["id"]
    assert started["metadata"]["sandboxId"] == sandbox["id"]
    assert started["metadata"]["requestId"] == "val-1"
    [decided] = api.audit(action="template.validation.decided")
    assert decided["metadata"]["sandboxId"] == sandbox["id"]
    assert decided["metadata"]["status"] == "failed"
    [created] = api.audit(action="sandbox.created", resourceId=sandbox["id"])
    assert created["metadata"]["templateId"] == template["id"]


def test_global_template_runs_are_audited_in_the_run_project(client, api):
    project, template = api.project(), api.template()
    client.post(runs(template), json={"projectId": project["id"]})
    [started] = api.audit(action="template.validation.started")
    assert started["projectId"] == project["id"]


def test_openapi_documents_validation_runs(client):
    document = client.get("/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    for name in (
        "TemplateValidationRunCreate",
        "TemplateValidationRunDecision",
        "TemplateValidationRun",
    ):
        assert name in schemas
    start = document["paths"]["/v1/templates/{templateID}/validation-runs"]["post"]
    assert start["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TemplateValidationRun"
    }
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TemplateValidationRunCreate"
    }
    decide = document["paths"]["/v1/templates/{templateID}/validation-runs/{sandboxID}/decision"]
    assert decide["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TemplateValidationRun"
    }
