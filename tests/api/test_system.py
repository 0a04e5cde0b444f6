"""System routes, authentication, request ids, attribution and the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.testclient import TestClient

from backend.api.app import ROUTERS
from backend.db import Database
from backend.engines import health as engine_health
from tests.api.conftest import TOKEN, build_api

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_healthz_checks_the_database(client, settings):
    engine_health.reset()  # no engine has failed (see tests/engines for when one has)
    fine = {name: {"lastError": None, "lastErrorAt": None} for name in engine_health.ENGINES}
    assert client.get("/healthz").json() == {"status": "ok", "engines": fine}
    down = TestClient(build_api(settings, Database("sqlite:////proc/x.db")))
    response = down.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "error": "database is unreachable",
        "engines": fine,
    }


def test_info_reports_only_what_is_implemented(client):
    info = client.get("/v1/info").json()
    assert info["name"] == "mbox" and info["apiVersion"] == "v1alpha1"
    assert info["capabilities"] == [
        "projects",
        "openapi",
        "project-usage",
        "audit-events",
        "audit-attribution",
        "project-policies",
        "project-quota-policies",
        "project-credential-references",
        "templates",
        "template-validation-runs",
        "boundary-summaries",
        "sandboxes",
        "sandbox-lifecycle",
        "runtime-sessions",
        "execution-tasks",
        "task-events",
        "preview-ports",
        "artifacts",
        "artifact-retained-content",
        "artifact-client-upload",
        "lifecycle-ttl",
        "project-delete-cleanup-guard",
        "runtime-orphan-audit",
        "runtime-orphan-cleanup",
    ]
    assert info["compatibility"] == {
        "minimumCliApiVersion": "v1alpha1",
        "minimumSdkApiVersion": "v1alpha1",
    }
    assert info["authenticationRequired"] is False
    assert info["artifactContent"] == {
        "retainedContentEnabled": True,
        "storageProvider": "postgres",
        "maxBytes": 8 * 1024 * 1024,
    }


def test_only_healthz_and_info_are_public(secured_client):
    assert secured_client.get("/healthz").status_code == 200
    assert secured_client.get("/v1/info").json()["authenticationRequired"] is True
    for method, path in [
        ("GET", "/v1/projects"),
        ("GET", "/v1/openapi.json"),
        ("POST", "/v1/sandboxes"),
        ("GET", "/v1/does-not-exist"),
        ("POST", "/v1/info"),
        ("GET", "/v1/runtime/resources"),
        ("GET", "/v1/runtime/orphans"),
        ("POST", "/v1/runtime/orphans/cleanup"),
    ]:
        response = secured_client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json() == {"error": "missing or invalid bearer token"}
        assert response.headers["x-mbox-request-id"]


@pytest.mark.parametrize(
    "header", [f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, "Bearer ", f"Basic {TOKEN}"]
)
def test_wrong_credentials_are_refused(secured_client, header):
    response = secured_client.get("/v1/projects", headers={"Authorization": header})
    assert response.status_code == 401


def test_bearer_token_grants_access(secured_client):
    assert secured_client.get("/v1/projects", headers=AUTH).json() == {"items": []}
    padded = {"Authorization": f"Bearer  {TOKEN} "}
    assert secured_client.get("/v1/projects", headers=padded).status_code == 200


def test_request_id_is_echoed_sanitised_or_generated(client, api):
    given = client.get("/v1/projects", headers={"X-Mbox-Request-ID": "  trace-1\x07 ok  "})
    assert given.headers["x-mbox-request-id"] == "trace-1ok"
    long_id = client.get("/v1/projects", headers={"X-Mbox-Request-ID": "x" * 300})
    assert long_id.headers["x-mbox-request-id"] == "x" * 128
    generated = client.get("/v1/projects").headers["x-mbox-request-id"]
    assert len(generated) == 36 and generated.count("-") == 4
    assert client.get("/v1/nope").headers["x-mbox-request-id"]


def test_attribution_headers_and_request_id_reach_audit(client, api):
    headers = {
        "X-Mbox-Request-ID": "req-42",
        "X-Mbox-Audit-Actor": "ci-bot\n",
        "X-Mbox-Audit-Source": "github-actions",
    }
    response = client.post(
        "/v1/projects", json={"name": "Audited", "defaultNamespace": "ns"}, headers=headers
    )
    assert response.status_code == 201
    [event] = api.audit(requestId="req-42")
    assert event["actor"] == "ci-bot"
    assert event["source"] == "github-actions"
    assert event["metadata"]["requestId"] == "req-42"
    assert event["principal"] == "anonymous"
    api.project()
    default = api.audit(action="project.created", limit=1)[0]
    assert default["source"] == "http-api" and "actor" not in default


def test_unknown_routes_and_methods(client):
    missing = client.get("/v1/nothing/here")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = client.put("/v1/projects")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    assert client.post("/v1/sandboxes/not-a-uuid/stop").json() == {"error": "invalid sandbox id"}


def _operations() -> set[tuple[str, str]]:
    """Every route's (method, path); a WebSocket route is documented as its GET."""
    operations = set()
    for module in ROUTERS:
        for route in module.router.routes:
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {path:path} -> {path}
            if isinstance(route, APIRoute):
                operations |= {(method.lower(), path) for method in route.methods}
            elif isinstance(route, APIWebSocketRoute):
                operations.add(("get", path))
    return operations


def test_openapi_matches_the_routes_exactly(client):
    document = client.get("/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {
        "title": "mbox API",
        "version": "v1alpha1",
        "description": document["info"]["description"],
    }
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert documented == _operations()
    assert ("post", "/v1/sandboxes/{sandboxID}/stop") in documented
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer"}
    }


def test_openapi_security_bodies_and_lists(client):
    document = client.get("/v1/openapi.json").json()
    paths = document["paths"]
    assert paths["/healthz"]["get"]["security"] == []
    assert "401" not in paths["/v1/info"]["get"]["responses"]
    create = paths["/v1/projects"]["post"]
    assert create["security"] == [{"bearerAuth": []}]
    assert create["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProjectCreate"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Project"
    }
    listing = paths["/v1/audit-events"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listing["schema"] == {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}}
        },
        "required": ["items"],
    }
    assert paths["/v1/projects/{projectID}"]["delete"]["responses"]["204"] == {
        "description": "Deleted"
    }
    audit_params = {p["name"] for p in paths["/v1/audit-events"]["get"]["parameters"]}
    assert {"projectId", "action", "resourceType", "resourceId", "actor", "source"} <= audit_params
    assert {
        "requestId",
        "operation",
        "since",
        "until",
        "limit",
        "X-Mbox-Request-ID",
    } <= audit_params
    schemas = document["components"]["schemas"]
    for name in [
        "Project",
        "ProjectCreate",
        "ProjectUpdate",
        "EnvironmentTemplate",
        "TemplateCreate",
        "TemplateUpdate",
        "Sandbox",
        "SandboxCreate",
        "SandboxUpdate",
        "AuditEvent",
        "APIInfo",
        "Health",
        "Error",
        "RuntimeRef",
    ]:
        assert name in schemas, name
    assert "defaultNamespace" in schemas["Project"]["properties"]
    assert schemas["SandboxCreate"]["additionalProperties"] is False
    every_ref = str(document)
    assert "HTTPValidationError" not in every_ref


def test_info_reports_the_runtime(client):
    info = client.get("/v1/info").json()
    assert info["runtimeController"]["adapter"] == "local"
    assert info["runtimeController"]["enabled"] is True
    assert info["runtimeAccess"]["details"]["isolation"] == "bubblewrap"


def test_info_says_when_bubblewrap_is_missing(settings, database, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    info = TestClient(build_api(settings, database)).get("/v1/info").json()
    assert info["runtimeController"]["enabled"] is False
    assert "bwrap" in info["runtimeController"]["message"]
    assert "apt-get install bubblewrap" in info["runtimeController"]["message"]
