"""The OpenAPI document passes the reference TypeScript SDK's alignment check.

The rules are the SDK's `checkOpenAPIAlignment` as the reference records them
(../shared/reference/mbox-contract.md §5.4): each SDK route exists with its method, bearer
security and a 401, declared query parameters, JSON request bodies and responses by
schema name, list wrappers, the NDJSON task events, binary artifact content, and the
properties of the usage, audit and runtime inventory schemas. Nothing may be missing.
"""

from __future__ import annotations

from typing import Any

import pytest

# (method, path, success status, request schema, response schema, list item schema)
ROUTES = [
    ("get", "/healthz", "200", None, "Health", None),
    ("get", "/v1/info", "200", None, "APIInfo", None),
    ("get", "/v1/openapi.json", "200", None, None, None),
    ("get", "/v1/runtime/resources", "200", None, "RuntimeResourceList", None),
    ("get", "/v1/runtime/orphans", "200", None, "RuntimeOrphanAudit", None),
    ("post", "/v1/runtime/orphans/cleanup", "200", "RuntimeOrphanCleanupRequest",
     "RuntimeOrphanCleanupResult", None),
    ("get", "/v1/audit-events", "200", None, None, "AuditEvent"),
    ("get", "/v1/projects", "200", None, None, "Project"),
    ("post", "/v1/projects", "201", "ProjectCreate", "Project", None),
    ("get", "/v1/projects/{projectID}", "200", None, "Project", None),
    ("patch", "/v1/projects/{projectID}", "200", "ProjectUpdate", "Project", None),
    ("delete", "/v1/projects/{projectID}", "204", None, None, None),
    ("get", "/v1/projects/{projectID}/policy", "200", None, "ProjectPolicy", None),
    ("put", "/v1/projects/{projectID}/policy", "200", "ProjectPolicyUpsert", "ProjectPolicy",
     None),
    ("get", "/v1/projects/{projectID}/quota-policy", "200", None, "ProjectQuotaPolicy", None),
    ("put", "/v1/projects/{projectID}/quota-policy", "200", "ProjectQuotaPolicyUpsert",
     "ProjectQuotaPolicy", None),
    ("get", "/v1/projects/{projectID}/credentials", "200", None, None, "ProjectCredential"),
    ("post", "/v1/projects/{projectID}/credentials", "201", "ProjectCredentialCreate",
     "ProjectCredential", None),
    ("get", "/v1/projects/{projectID}/usage", "200", None, "ProjectUsage", None),
    ("get", "/v1/projects/{projectID}/audit-events", "200", None, None, "AuditEvent"),
    ("get", "/v1/credentials/{credentialID}", "200", None, "ProjectCredential", None),
    ("delete", "/v1/credentials/{credentialID}", "204", None, None, None),
    ("get", "/v1/templates", "200", None, None, "EnvironmentTemplate"),
    ("post", "/v1/templates", "201", "TemplateCreate", "EnvironmentTemplate", None),
    ("get", "/v1/templates/{templateID}", "200", None, "EnvironmentTemplate", None),
    ("patch", "/v1/templates/{templateID}", "200", "TemplateUpdate", "EnvironmentTemplate",
     None),
    ("delete", "/v1/templates/{templateID}", "204", None, None, None),
    ("get", "/v1/templates/{templateID}/boundary", "200", None, "BoundarySummary", None),
    ("post", "/v1/templates/{templateID}/validation-runs", "201",
     "TemplateValidationRunCreate", "TemplateValidationRun", None),
    ("post", "/v1/templates/{templateID}/validation-runs/{sandboxID}/decision", "200",
     "TemplateValidationRunDecision", "TemplateValidationRun", None),
    ("get", "/v1/sandboxes", "200", None, None, "Sandbox"),
    ("post", "/v1/sandboxes", "201", "SandboxCreate", "Sandbox", None),
    ("get", "/v1/sandboxes/{sandboxID}", "200", None, "Sandbox", None),
    ("patch", "/v1/sandboxes/{sandboxID}", "200", "SandboxUpdate", "Sandbox", None),
    ("delete", "/v1/sandboxes/{sandboxID}", "204", None, None, None),
    ("get", "/v1/sandboxes/{sandboxID}/boundary", "200", None, "BoundarySummary", None),
    ("post", "/v1/sandboxes/{sandboxID}/start", "200", None, "Sandbox", None),
    ("post", "/v1/sandboxes/{sandboxID}/stop", "200", None, "Sandbox", None),
    ("get", "/v1/sandboxes/{sandboxID}/runtime", "200", None, "RuntimeTarget", None),
    ("get", "/v1/sandboxes/{sandboxID}/logs", "200", None, "LogResult", None),
    ("get", "/v1/sandboxes/{sandboxID}/events", "200", None, None, "RuntimeEvent"),
    ("get", "/v1/sandboxes/{sandboxID}/ports", "200", None, "PreviewPortsResult", None),
    ("get", "/v1/sandboxes/{sandboxID}/sessions", "200", None, None, "RuntimeSession"),
    ("post", "/v1/sandboxes/{sandboxID}/sessions", "201", "RuntimeSessionCreate",
     "RuntimeSession", None),
    ("get", "/v1/sandboxes/{sandboxID}/tasks", "200", None, None, "ExecutionTask"),
    ("post", "/v1/sandboxes/{sandboxID}/tasks", "201", "ExecutionTaskCreate", "ExecutionTask",
     None),
    ("get", "/v1/sandboxes/{sandboxID}/artifacts", "200", None, None, "Artifact"),
    ("post", "/v1/sandboxes/{sandboxID}/artifacts", "201", "ArtifactCreate", "Artifact", None),
    ("get", "/v1/sessions/{sessionID}", "200", None, "RuntimeSession", None),
    ("post", "/v1/sessions/{sessionID}/end", "200", None, "RuntimeSession", None),
    ("get", "/v1/tasks/{taskID}", "200", None, "ExecutionTask", None),
    ("post", "/v1/tasks/{taskID}/cancel", "200", None, "ExecutionTask", None),
    ("get", "/v1/tasks/{taskID}/artifacts", "200", None, None, "Artifact"),
    ("get", "/v1/artifacts/{artifactID}", "200", None, "Artifact", None),
    ("post", "/v1/artifacts/{artifactID}/capture", "200", None, "Artifact", None),
]  # fmt: skip
AUDIT_QUERY = ["action", "resourceType", "resourceId", "actor", "source", "requestId",
               "operation", "since", "until", "limit"]  # fmt: skip
QUERY = {
    ("get", "/v1/runtime/resources"): ["namespace", "kind"],
    ("get", "/v1/runtime/orphans"): ["namespace", "kind"],
    ("get", "/v1/audit-events"): ["projectId", *AUDIT_QUERY],
    ("get", "/v1/projects/{projectID}/audit-events"): AUDIT_QUERY,
    ("get", "/v1/templates"): ["projectId"],
    ("get", "/v1/sandboxes"): ["projectId"],
    ("get", "/v1/templates/{templateID}/boundary"): ["projectId"],
    ("get", "/v1/sandboxes/{sandboxID}/logs"): ["tailLines"],
}
BINARY = {"type": "string", "format": "binary"}
# Schemas whose properties the check compares (§2.9, §2.12 and §1.4 of the reference).
QUANTITY = ["total", "declared", "missing", "invalid"]
SCHEMAS = {
    "ProjectUsage": ["projectId", "generatedAt", "sandboxes", "runtimeSessions",
                     "executionTasks", "artifacts", "templates", "credentials", "notes"],
    "ProjectSandboxUsage": ["total", "active", "pending", "running", "stopped", "failed",
                            "deleted", "cleanupPending", "activeRequests", "runningRequests"],
    "SandboxResourceRequestUsage": ["count", "cpu", "memory", "storage"],
    "ResourceQuantityUsage": QUANTITY,
    "ProjectSessionUsage": ["total", "active", "ended", "failed", "terminal", "ide",
                            "notebook", "browser", "command", "custom"],
    "ProjectTaskUsage": ["total", "queued", "running", "succeeded", "failed", "canceled",
                         "timedOut"],
    "ProjectArtifactUsage": ["total", "retainedContent", "referencedBytes", "retainedBytes",
                             "file", "directory", "log", "report", "screenshot", "image",
                             "link", "other"],
    "ProjectTemplateUsage": ["projectScoped", "globalVisible", "cpuRequests",
                             "memoryRequests", "storageRequests"],
    "ResourceUsageValue": ["value", "count"],
    "ProjectCredentialUsage": ["total", "git", "registry", "kubernetes", "ssh", "generic"],
    "AuditEvent": ["id", "projectId", "action", "resourceType", "resourceId", "resourceName",
                   "actor", "source", "metadata", "createdAt"],
    "PolicyDeniedAuditMetadata": ["operation", "reason"],
    # The runtime inventory (§1.3).
    "RuntimeResourceList": ["adapter", "checkedAt", "summary", "items"],
    "RuntimeResourceSummary": ["total", "byKind", "byNamespace", "byOwner", "workload"],
    "RuntimeResourceCount": ["name", "count"],
    "RuntimeWorkloadSummary": ["observedResources", "desiredPods", "observedPods",
                               "runningPods", "containersReady", "containersTotal",
                               "restartCount", "requests", "limits", "storageCapacity",
                               "quantityIssues", "storage"],
    "RuntimeQuantityIssue": ["resource", "field", "value", "reason"],
    "RuntimeStorageSummary": ["phase", "count", "capacity"],
    "RuntimeResource": ["adapter", "kind", "namespace", "name", "owner", "observation",
                        "labels", "createdAt"],
    "RuntimeResourceOwner": ["kind", "projectId", "sandboxId", "templateId"],
    "RuntimeResourceObservation": ["runtimeName", "selector", "replicas", "podCount",
                                   "runningPodCount", "podName", "podPhase",
                                   "containersReady", "containersTotal", "restartCount",
                                   "requests", "limits", "storage", "readyCondition",
                                   "message"],
    "RuntimeStorage": ["name", "mountPath", "claimName", "phase", "capacity",
                       "storageClassName", "message"],
    "RuntimeOrphanAudit": ["adapter", "checkedAt", "namespace", "resourceCount",
                           "orphanCount", "expectedClean", "items"],
    "RuntimeOrphan": ["reason", "resource", "sandboxId", "templateId", "projectId",
                      "runtimeRef", "status", "deletedAt", "message", "evidence"],
    "ManagedResourceRef": ["adapter", "kind", "namespace", "name"],
    "RuntimeOrphanCleanupRequest": ["resource", "reason", "deleteOrphan", "confirm"],
    "RuntimeOrphanCleanupResult": ["deleted", "resource", "reason", "message"],
}  # fmt: skip


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def misalignments(document: dict[str, Any]) -> list[str]:
    """Everything the reference SDK's alignment check would report, in words."""
    found: list[str] = []
    paths = document.get("paths", {})
    schemes = document.get("components", {}).get("securitySchemes", {})
    if schemes.get("bearerAuth") != {"type": "http", "scheme": "bearer"}:
        found.append("components.securitySchemes.bearerAuth is not http bearer")
    for method, path, status, request, response, item in ROUTES:
        operation = paths.get(path, {}).get(method)
        if operation is None:
            found.append(f"{method} {path}: missing")
            continue
        found += [f"{method} {path}: {problem}" for problem in _operation(
            operation, method, path, status, request, response, item
        )]  # fmt: skip
    found += _task_events(paths) + _artifact_content(paths)
    return found + _schemas(document.get("components", {}).get("schemas", {}))


def _schemas(components: dict) -> list[str]:
    found = []
    for name, wanted in SCHEMAS.items():
        properties = components.get(name, {}).get("properties")
        if properties is None:
            found.append(f"schema {name}: missing")
            continue
        found += [f"schema {name}: no property {key}" for key in wanted if key not in properties]
    return found


def _operation(
    operation: dict, method: str, path: str, status: str, request: str | None,
    response: str | None, item: str | None,
) -> list[str]:  # fmt: skip
    problems = _security(operation, path)
    declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    missing = [name for name in QUERY.get((method, path), []) if name not in declared]
    problems += [f"query parameter {name} not declared" for name in missing]
    if request is not None:
        schema = _json_schema(operation.get("requestBody", {}))
        if schema.get("$ref") != _ref(request):
            problems.append(f"request body is not application/json $ref {request}")
    answer = operation.get("responses", {}).get(status)
    if answer is None:
        return [*problems, f"no {status} response"]
    schema = _json_schema(answer)
    if response is not None and schema.get("$ref") != _ref(response):
        problems.append(f"{status} response is not application/json $ref {response}")
    if item is not None:
        listed = schema.get("properties", {}).get("items", {}).get("items", {})
        if listed.get("$ref") != _ref(item):
            problems.append(f"{status} response is not a list wrapper of {item}")
    return problems


def _security(operation: dict, path: str) -> list[str]:
    if path in ("/healthz", "/v1/info"):
        return [] if operation.get("security") == [] else ["public but not security: []"]
    problems = []
    if {"bearerAuth": []} not in operation.get("security", []):
        problems.append("no bearerAuth security")
    if "401" not in operation.get("responses", {}):
        problems.append("no 401 response")
    return problems


def _json_schema(part: dict) -> dict:
    return part.get("content", {}).get("application/json", {}).get("schema", {})


def _task_events(paths: dict) -> list[str]:
    operation = paths.get("/v1/tasks/{taskID}/events", {}).get("get")
    if operation is None:
        return ["get /v1/tasks/{taskID}/events: missing"]
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/x-ndjson", {}).get("schema", {})
    if schema.get("$ref") != _ref("ExecutionTaskEvent"):
        return ["get /v1/tasks/{taskID}/events: 200 is not application/x-ndjson of "
                "ExecutionTaskEvent"]  # fmt: skip
    return _security(operation, "")


def _artifact_content(paths: dict) -> list[str]:
    path = "/v1/artifacts/{artifactID}/content"
    problems = []
    upload = paths.get(path, {}).get("put")
    if upload is None:
        problems.append(f"put {path}: missing")
    else:
        offered = upload.get("requestBody", {}).get("content", {})
        for kind in ("application/octet-stream", "text/plain"):
            if offered.get(kind, {}).get("schema") != BINARY:
                problems.append(f"put {path}: upload does not offer {kind} as binary")
        problems += [f"put {path}: {problem}" for problem in _security(upload, path)]
    download = paths.get(path, {}).get("get")
    if download is None:
        return [*problems, f"get {path}: missing"]
    content = download.get("responses", {}).get("200", {}).get("content", {})
    if not any(kind.get("schema") == BINARY for kind in content.values()):
        problems.append(f"get {path}: 200 is not binary content")
    return problems + [f"get {path}: {problem}" for problem in _security(download, path)]


def test_the_reference_sdk_finds_nothing_missing(client):
    document = client.get("/v1/openapi.json").json()
    assert misalignments(document) == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d["paths"]["/v1/projects"]["post"]["responses"]["201"]["content"]
         ["application/json"]["schema"].pop("$ref"),
         "post /v1/projects: 201 response is not application/json $ref Project"),
        (lambda d: d["paths"]["/v1/tasks/{taskID}/events"]["get"]["responses"]["200"]
         .pop("content"),
         "get /v1/tasks/{taskID}/events: 200 is not application/x-ndjson of ExecutionTaskEvent"),
        (lambda d: d["paths"]["/v1/artifacts/{artifactID}/content"]["put"]["requestBody"]
         ["content"].pop("text/plain"),
         "put /v1/artifacts/{artifactID}/content: upload does not offer text/plain as binary"),
        (lambda d: d["paths"]["/v1/sandboxes"]["get"]["parameters"].clear(),
         "get /v1/sandboxes: query parameter projectId not declared"),
        (lambda d: d["paths"].pop("/v1/sessions/{sessionID}"),
         "get /v1/sessions/{sessionID}: missing"),
        (lambda d: d["components"]["schemas"]["ProjectTaskUsage"]["properties"].pop("timedOut"),
         "schema ProjectTaskUsage: no property timedOut"),
    ],
)  # fmt: skip
def test_the_check_itself_catches_drift(client, damage, expected):
    """The checker is only worth its word if it fails: each damage is reported."""
    document = client.get("/v1/openapi.json").json()
    damage(document)
    assert expected in misalignments(document)
