"""Boundary summaries: template and sandbox shapes, checks in the reference's order with
their statuses (launch policy, lifecycle, secrets, credentials), what the local runtime
really enforces, and refusals (404, 400)."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from backend.credentials.models import ProjectCredentialRow
from backend.policy.models import ProjectPolicyRow
from tests.api.conftest import build_api

REFERENCE_CHECKS = [
    "namespace",
    "service-account",
    "service-account-token",
    "secret-refs",
    "credential-refs",
    "network-policy",
    "lifecycle-policy",
]


def checks(summary: dict) -> dict[str, dict]:
    return {check["id"]: check for check in summary["checks"]}


def boundary(client, sandbox: dict) -> dict:
    response = client.get(f"/v1/sandboxes/{sandbox['id']}/boundary")
    assert response.status_code == 200, response.text
    return response.json()


def enforce(database, project: dict, **rules: list[str]) -> None:
    with database.session() as db:
        db.add(
            ProjectPolicyRow(project_id=uuid.UUID(project["id"]), enforcement="enforced", **rules)
        )
        db.commit()


def test_sandbox_boundary_shape_and_check_order(client, api):
    project = api.project(defaultNamespace="team-a")
    template = api.template(
        image="python:3.12",
        cpuRequest="250m",
        memoryRequest="512Mi",
        exposedPorts=[{"name": "web", "port": 3000}],
        env={"MODE": "dev", "LEVEL": "2"},
    )
    sandbox = api.sandbox(project, template, name="Boxed")
    summary = boundary(client, sandbox)
    assert summary["kind"] == "sandbox"
    assert summary["projectId"] == project["id"] and summary["projectName"] == project["name"]
    assert (summary["templateId"], summary["templateName"]) == (template["id"], template["name"])
    assert (summary["sandboxId"], summary["sandboxName"]) == (sandbox["id"], "Boxed")
    assert summary["sandboxStatus"] == "pending"
    assert summary["namespace"] == "team-a"
    assert summary["serviceAccountName"] == "mbox-sandbox"
    assert summary["serviceAccountTokenAutomount"] is False
    assert summary["image"] == "python:3.12"
    assert summary["imageProjection"] == "pulled"  # the local runtime runs the image
    assert summary["workingDir"] == "/workspace"
    assert summary["resourceRequests"] == {"cpu": "250m", "memory": "512Mi"}
    assert summary["previewPorts"] == [{"name": "web", "port": 3000, "protocol": "TCP"}]
    assert summary["envVarCount"] == 2 and summary["envProjection"] == "injected"
    assert summary["secretProjection"] == "none" and "secretRefs" not in summary
    assert summary["credentialProjection"] == "none" and "credentialRefs" not in summary
    assert summary["networkPolicy"] == "default"
    assert summary["policyEnforcement"] == "disabled"
    assert summary["lifecyclePolicyProjection"] == "not-configured"
    assert summary["runtime"]["adapter"] == "local"
    assert any("namespaces" in fact for fact in summary["runtime"]["isolation"])
    for name in ("controllerPermissions", "runtimeAccess", "cleanup"):
        assert summary[name] and all(isinstance(line, str) for line in summary[name])
    ids = [check["id"] for check in summary["checks"]]
    assert ids == [*REFERENCE_CHECKS, "runtime-ref", "launch-policy", "image", "isolation"]
    assert all(check["status"] in ("pass", "warn", "fail") for check in summary["checks"])
    found = checks(summary)
    assert found["namespace"]["status"] == "pass"
    assert found["service-account-token"]["status"] == "pass"
    assert found["runtime-ref"]["status"] == "warn"  # no runtime in these tests
    assert found["image"]["status"] == "pass" and "is pulled and run" in found["image"]["message"]


def test_no_launch_policy_warns(client, api):
    summary = boundary(client, api.sandbox(api.project(), api.template()))
    check = checks(summary)["launch-policy"]
    assert check["status"] == "warn"
    assert "not enforced" in check["message"]
    assert summary["policyEnforcement"] == "disabled"


def test_enforced_violating_policy_fails_with_evidence(client, api, database):
    project = api.project()
    template = api.template(image="docker.io/evil:latest", secretRefs=[{"name": "prod-db"}])
    sandbox = api.sandbox(project, template)  # launched before the policy was enforced
    enforce(database, project, allowed_image_prefixes=["ghcr.io/acme/"])
    summary = boundary(client, sandbox)
    check = checks(summary)["launch-policy"]
    assert check["status"] == "fail"
    assert check["evidence"] == [
        'image "docker.io/evil:latest" is not allowed',
        'secretRef "prod-db" is not allowed',
    ]
    assert summary["policyEnforcement"] == "enforced"
    assert summary["allowedImagePrefixes"] == ["ghcr.io/acme/"]
    secrets = checks(summary)["secret-refs"]
    assert (secrets["status"], secrets["evidence"]) == ("warn", ["prod-db"])
    assert summary["secretProjection"] == "references-recorded-not-mounted"


def test_enforced_policy_that_allows_passes(client, api, database):
    project = api.project()
    template = api.template(image="ghcr.io/acme/app:1")
    enforce(
        database,
        project,
        allowed_image_prefixes=["ghcr.io/acme/"],
        allowed_service_accounts=["mbox-sandbox"],
    )
    summary = boundary(client, api.sandbox(project, template))
    assert checks(summary)["launch-policy"]["status"] == "pass"
    assert summary["allowedServiceAccounts"] == ["mbox-sandbox"]


def test_lifecycle_ttl_and_idle_are_enforced(client, api):
    project = api.project()
    ttl = api.template(lifecyclePolicy={"ttlSeconds": 600})
    summary = boundary(client, api.sandbox(project, ttl))
    check = checks(summary)["lifecycle-policy"]
    assert check["status"] == "pass" and "ttl 600 s" in check["message"]
    assert summary["lifecyclePolicy"] == {"ttlSeconds": 600}
    assert summary["lifecyclePolicyProjection"] == "ttl-enforced"
    both = api.template(lifecyclePolicy={"ttlSeconds": 600, "idleTimeoutSeconds": 60})
    summary = boundary(client, api.sandbox(project, both))
    assert summary["lifecyclePolicyProjection"] == "ttl-and-idle-enforced"
    idle = api.template(lifecyclePolicy={"idleTimeoutSeconds": 60})
    summary = boundary(client, api.sandbox(project, idle))
    assert summary["lifecyclePolicyProjection"] == "idle-enforced"
    assert checks(summary)["lifecycle-policy"]["status"] == "pass"
    none = boundary(client, api.sandbox(project, api.template()))
    assert checks(none)["lifecycle-policy"]["status"] == "warn"


def test_restricted_network_is_loopback_only(client, api):
    template = api.template(networkPolicy="restricted")
    summary = boundary(client, api.sandbox(api.project(), template))
    assert summary["networkPolicyProjection"] == "loopback-only"
    assert checks(summary)["network-policy"]["status"] == "pass"


def test_credential_refs_name_secrets_never_values(client, api, database):
    project = api.project()
    with database.session() as db:
        db.add(
            ProjectCredentialRow(
                project_id=uuid.UUID(project["id"]),
                name="Deploy key",
                slug="deploy-key",
                type="ssh",
                target="github.com/acme",
                secret_ref={"name": "deploy", "key": "id_ed25519"},
                usage=["clone"],
            )
        )
        db.commit()
    summary = boundary(client, api.sandbox(project, api.template()))
    [ref] = summary["credentialRefs"]
    assert ref["slug"] == "deploy-key" and ref["secretRef"] == "deploy"
    assert ref["target"] == "github.com/acme" and ref["usage"] == ["clone"]
    assert summary["credentialProjection"] == "references-recorded-not-mounted"
    check = checks(summary)["credential-refs"]
    assert (check["status"], check["evidence"]) == ("warn", ["deploy-key"])


def test_template_boundary_with_and_without_project(client, api, database):
    template = api.template(image="python:3.12")
    alone = client.get(f"/v1/templates/{template['id']}/boundary").json()
    assert alone["kind"] == "template"
    assert "projectId" not in alone and "namespace" not in alone and "sandboxId" not in alone
    assert "serviceAccountName" not in alone
    assert [check["id"] for check in alone["checks"]] == [
        *REFERENCE_CHECKS,
        "launch-policy",
        "image",
        "isolation",
    ]
    found = checks(alone)
    assert found["namespace"]["status"] == "warn"
    assert found["launch-policy"]["status"] == "warn"
    assert "projectId" in found["launch-policy"]["message"]

    project = api.project(defaultNamespace="team-b")
    enforce(database, project, allowed_image_prefixes=["ghcr.io/"])
    placed = client.get(
        f"/v1/templates/{template['id']}/boundary", params={"projectId": project["id"]}
    ).json()
    assert placed["projectId"] == project["id"] and placed["namespace"] == "team-b"
    assert placed["serviceAccountName"] == "mbox-sandbox"
    assert checks(placed)["launch-policy"]["status"] == "fail"


def test_project_template_ignores_project_id(client, api):
    own, other = api.project(defaultNamespace="own-ns"), api.project()
    template = api.template(projectId=own["id"])
    summary = client.get(
        f"/v1/templates/{template['id']}/boundary", params={"projectId": other["id"]}
    ).json()
    assert summary["projectId"] == own["id"] and summary["namespace"] == "own-ns"


def test_missing_resources_are_404(client, api):
    missing = uuid.uuid4()
    for path in (f"/v1/templates/{missing}/boundary", f"/v1/sandboxes/{missing}/boundary"):
        response = client.get(path)
        assert response.status_code == 404 and response.json() == {"error": "resource not found"}
    template = api.template()
    response = client.get(f"/v1/templates/{template['id']}/boundary", params={"projectId": missing})
    assert response.status_code == 404
    sandbox = api.sandbox(api.project(), template)
    client.delete(f"/v1/sandboxes/{sandbox['id']}")
    assert client.get(f"/v1/sandboxes/{sandbox['id']}/boundary").status_code == 404


def test_bad_ids_are_400(client, api):
    response = client.get("/v1/sandboxes/not-a-uuid/boundary")
    assert response.status_code == 400 and response.json() == {"error": "invalid sandbox id"}
    response = client.get("/v1/templates/nope/boundary")
    assert response.status_code == 400 and response.json() == {"error": "invalid template id"}
    template = api.template()
    response = client.get(f"/v1/templates/{template['id']}/boundary", params={"projectId": "x"})
    assert response.status_code == 400 and response.json() == {"error": "invalid projectId query"}


def test_isolation_fails_without_bubblewrap(settings, database, api, monkeypatch):
    sandbox = api.sandbox(api.project(), api.template())
    monkeypatch.setenv("PATH", "/nonexistent")
    down = TestClient(build_api(settings, database))
    summary = boundary(down, sandbox)
    check = checks(summary)["isolation"]
    assert check["status"] == "fail" and "bwrap" in check["message"]
    assert summary["runtime"]["available"] is False


def test_boundary_routes_are_documented(client):
    document = client.get("/v1/openapi.json").json()
    for path in ("/v1/templates/{templateID}/boundary", "/v1/sandboxes/{sandboxID}/boundary"):
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert schema["application/json"]["schema"] == {
            "$ref": "#/components/schemas/BoundarySummary"
        }
        assert document["paths"][path]["get"]["security"] == [{"bearerAuth": []}]
    assert "BoundarySummary" in document["components"]["schemas"]
    params = document["paths"]["/v1/templates/{templateID}/boundary"]["get"]["parameters"]
    assert any(p["name"] == "projectId" and p["in"] == "query" for p in params)


def test_the_host_image_is_said_to_be_no_image(client, api):
    """Image `host` on the local runtime: the host's own /usr, said as such (a warning)."""
    sandbox = api.sandbox(api.project(), api.template(image="host"))
    summary = boundary(client, sandbox)
    assert summary["imageProjection"] == "host-root"
    (image,) = [check for check in summary["checks"] if check["id"] == "image"]
    assert image["status"] == "warn" and "read-only /usr and /etc" in image["message"]
