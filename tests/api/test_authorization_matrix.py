"""The authorization matrix: every operation of the OpenAPI document (and the WebSockets)
x every role x every project scope, over HTTP, against what the roles are meant to do.

The expected permissions of each role are written out here from the issue's words, not
read from backend/auth/access.py, so a change to the role table fails this test. Each
operation is classified by the permission it needs and whether it acts on a project's
resource, on nothing of a project (global), or lists across projects; the test fails
when the document has an operation this table does not classify.

Outcomes: a denial is a 403, or a 404 that hides another project's resource; anything
else (200, 201, 204, and the 400/409 of a request that was authorized and then refused
for its content or the sandbox's state) counts as allowed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from backend.artifacts.models import ArtifactRow
from backend.auth.models import Principal
from backend.db import Database
from backend.principals import service as tokens
from backend.principals.models import ApiTokenCreate
from backend.tasks.models import ExecutionTaskRow
from tests.api.conftest import TOKEN, build_api

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ROLES = ("viewer", "developer", "operator", "admin", "auditor")
# What each role may do, in the issue's words: viewers cannot mutate; developers drive
# sandboxes; operators also govern projects and clean up the runtime; admins also manage
# everyone's tokens; auditors read audit, policy, usage and runtime inventory and change
# nothing (no sandbox contents either).
GRANTS = {
    "viewer": {"read", "read-content"},
    "developer": {"read", "read-content", "operate"},
    "operator": {"read", "read-content", "operate", "govern", "audit", "runtime-read",
                 "runtime-cleanup"},
    "admin": {"read", "read-content", "operate", "govern", "audit", "runtime-read",
              "runtime-cleanup", "manage-tokens"},
    "auditor": {"read", "audit", "runtime-read"},
}  # fmt: skip
# A principal sees every project, only the one the resources are in, or only another one.
SCOPES = ("all", "own", "other")
# A 404 that says "no such thing": exactly what a missing id gets.
DENYING_404 = {
    "resource not found",
    "project not found",
    "template not found",
    "runtime session not found",
    "preview link not found",
}


@dataclass(frozen=True)
class Op:
    permission: str
    kind: str  # project (a resource of project A) | global | list | any
    json: Any = None
    content: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    last: bool = False  # destructive: run after the others


def op(permission: str, kind: str = "project", **extra: Any) -> Op:
    return Op(permission, kind, **extra)


CLEANUP = {
    "deleteOrphan": True,
    "confirm": "delete-orphan-runtime-resource",
    "resource": {"adapter": "local", "kind": "Workspace", "namespace": "x", "name": "y"},
    "reason": "missing-sandbox",
}
PATH = {"path": "notes.txt"}
OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): op("", "any"),
    ("GET", "/v1/info"): op("", "any"),
    ("GET", "/v1/openapi.json"): op("", "any"),
    ("GET", "/v1/whoami"): op("", "any"),
    ("GET", "/v1/tokens"): op("", "any"),
    ("POST", "/v1/tokens"): op("", "any", json={"name": "another"}),
    ("GET", "/v1/tokens/{tokenID}"): op("", "any"),
    ("DELETE", "/v1/tokens/{tokenID}"): op("", "any", last=True),
    ("GET", "/v1/runtime/resources"): op("runtime-read", "global"),
    ("GET", "/v1/runtime/orphans"): op("runtime-read", "global"),
    ("GET", "/v1/images"): op("runtime-read", "global"),
    ("POST", "/v1/runtime/orphans/cleanup"): op("runtime-cleanup", "global", json=CLEANUP),
    ("GET", "/v1/audit-events"): op("audit", "list"),
    ("GET", "/v1/audit-events/export"): op("audit", "list"),
    # The chain spans every project: only unscoped auditors can check it.
    ("GET", "/v1/audit-events/verify"): op("audit", "global"),
    ("GET", "/v1/projects/{projectID}/audit-events"): op("audit"),
    ("GET", "/v1/projects"): op("read", "list"),
    ("POST", "/v1/projects"): op(
        "govern", "global", json={"name": "New", "defaultNamespace": "new"}
    ),
    ("GET", "/v1/projects/{projectID}"): op("read"),
    ("PATCH", "/v1/projects/{projectID}"): op("govern", json={"name": "Renamed"}),
    ("DELETE", "/v1/projects/{projectID}"): op("govern", last=True),
    ("GET", "/v1/projects/{projectID}/usage"): op("read"),
    ("GET", "/v1/projects/{projectID}/artifact-usage"): op("read"),
    ("GET", "/v1/projects/{projectID}/policy"): op("read"),
    ("PUT", "/v1/projects/{projectID}/policy"): op("govern", json={"enforcement": "disabled"}),
    # A dry run: what a policy would deny, read by whoever reads the project.
    ("POST", "/v1/projects/{projectID}/policy/preview"): op(
        "read", json={"enforcement": "enforced"}
    ),
    ("GET", "/v1/projects/{projectID}/quota-policy"): op("read"),
    ("PUT", "/v1/projects/{projectID}/quota-policy"): op(
        "govern", json={"enforcement": "disabled"}
    ),
    ("GET", "/v1/projects/{projectID}/credentials"): op("read"),
    ("POST", "/v1/projects/{projectID}/credentials"): op(
        "govern", json={"name": "Another", "type": "git", "secretRef": {"name": "git"}}
    ),
    ("GET", "/v1/credentials/{credentialID}"): op("read"),
    ("DELETE", "/v1/credentials/{credentialID}"): op("govern", last=True),
    ("GET", "/v1/templates"): op("read", "list"),
    ("POST", "/v1/templates"): op("operate", json="template"),
    ("GET", "/v1/templates/{templateID}"): op("read"),
    ("PATCH", "/v1/templates/{templateID}"): op("operate", json={"name": "Renamed"}),
    ("DELETE", "/v1/templates/{templateID}"): op("operate", last=True),
    ("GET", "/v1/templates/{templateID}/boundary"): op("read"),
    ("GET", "/v1/templates/{templateID}/build"): op("read"),
    ("POST", "/v1/templates/{templateID}/validation-runs"): op("operate", json={}),
    ("POST", "/v1/templates/{templateID}/validation-runs/{sandboxID}/decision"): op(
        "operate", json={"status": "passed"}
    ),
    ("GET", "/v1/sandboxes"): op("read", "list"),
    ("POST", "/v1/sandboxes"): op("operate", json="sandbox"),
    ("GET", "/v1/sandboxes/{sandboxID}"): op("read"),
    ("PATCH", "/v1/sandboxes/{sandboxID}"): op("operate", json={"name": "renamed"}),
    ("DELETE", "/v1/sandboxes/{sandboxID}"): op("operate", last=True),
    ("POST", "/v1/sandboxes/{sandboxID}/start"): op("operate"),
    ("POST", "/v1/sandboxes/{sandboxID}/stop"): op("operate"),
    ("POST", "/v1/sandboxes/{sandboxID}/renew"): op("operate", json={"ttlSeconds": 60}),
    ("GET", "/v1/sandboxes/{sandboxID}/runtime"): op("read"),
    ("GET", "/v1/sandboxes/{sandboxID}/logs"): op("read-content"),
    ("GET", "/v1/sandboxes/{sandboxID}/events"): op("read-content"),
    ("GET", "/v1/sandboxes/{sandboxID}/ports"): op("read"),
    ("GET", "/v1/sandboxes/{sandboxID}/boundary"): op("read"),
    ("GET", "/v1/sandboxes/{sandboxID}/metrics"): op("read", query={"window": "60"}),
    ("GET", "/v1/sandboxes/{sandboxID}/files"): op("read-content", query={"path": "."}),
    ("DELETE", "/v1/sandboxes/{sandboxID}/files"): op("operate", query=PATH),
    ("GET", "/v1/sandboxes/{sandboxID}/files/content"): op("read-content", query=PATH),
    ("GET", "/v1/sandboxes/{sandboxID}/files/archive"): op("read-content", query={"path": ""}),
    ("PUT", "/v1/sandboxes/{sandboxID}/files/content"): op("operate", query=PATH, content=b"hello"),
    ("GET", "/v1/sandboxes/{sandboxID}/tasks"): op("read"),
    ("POST", "/v1/sandboxes/{sandboxID}/tasks"): op("operate", json={"command": ["true"]}),
    ("GET", "/v1/tasks/{taskID}"): op("read"),
    ("POST", "/v1/tasks/{taskID}/cancel"): op("operate"),
    ("GET", "/v1/tasks/{taskID}/events"): op("read-content"),
    ("GET", "/v1/tasks/{taskID}/output"): op("read-content"),
    ("GET", "/v1/sandboxes/{sandboxID}/artifacts"): op("read"),
    ("POST", "/v1/sandboxes/{sandboxID}/artifacts"): op(
        "operate", json={"name": "notes", "uri": "workspace:///notes.txt"}
    ),
    ("GET", "/v1/tasks/{taskID}/artifacts"): op("read"),
    ("GET", "/v1/artifacts/{artifactID}"): op("read"),
    ("DELETE", "/v1/artifacts/{artifactID}"): op("operate", last=True),
    ("POST", "/v1/artifacts/{artifactID}/capture"): op("operate"),
    ("PUT", "/v1/artifacts/{artifactID}/content"): op("operate", content=b"retained"),
    ("GET", "/v1/artifacts/{artifactID}/content"): op("read-content"),
    ("GET", "/v1/sandboxes/{sandboxID}/sessions"): op("read"),
    ("POST", "/v1/sandboxes/{sandboxID}/sessions"): op("operate", json={"type": "ide"}),
    ("GET", "/v1/sessions/{sessionID}"): op("read"),
    ("POST", "/v1/sessions/{sessionID}/end"): op("operate"),
    ("GET", "/v1/sessions/{sessionID}/recording"): op("read-content"),
    # Code runs in the sandbox's kernels: all of it (listing contexts too) is operating.
    ("POST", "/v1/sandboxes/{sandboxID}/code/run"): op("operate", json={"code": "1"}),
    ("GET", "/v1/sandboxes/{sandboxID}/code/contexts"): op("operate"),
    ("POST", "/v1/sandboxes/{sandboxID}/code/contexts"): op("operate"),
    ("DELETE", "/v1/sandboxes/{sandboxID}/code/contexts/{contextID}"): op("operate"),
    ("POST", "/v1/sandboxes/{sandboxID}/code/contexts/{contextID}/restart"): op("operate"),
    ("POST", "/v1/sandboxes/{sandboxID}/preview-links"): op("operate", json={"port": 8000}),
    ("GET", "/v1/sandboxes/{sandboxID}/preview-links"): op("read"),
    ("POST", "/v1/preview-links/{linkID}/revoke"): op("operate", last=True),
    # Only a redirect to the path below (which is checked): nothing of the sandbox is read.
    ("GET", "/v1/sandboxes/{sandboxID}/ports/{port}/proxy"): op("", "any"),
    **{
        (method, "/v1/sandboxes/{sandboxID}/ports/{port}/proxy/{path}"): op("operate")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
}
WEBSOCKETS: dict[tuple[str, str], Op] = {
    ("WS", "/v1/sandboxes/{sandboxID}/terminal"): op("operate"),
    ("WS", "/v1/sandboxes/{sandboxID}/terminal?mode=watch"): op("read-content"),
    ("WS", "/v1/sandboxes/{sandboxID}/ports/{port}/proxy/{path}"): op("operate"),
}


def expected(operation: Op, role: str, scope: str) -> bool:
    granted = operation.permission in GRANTS[role]
    if operation.kind == "any":
        return True
    if operation.kind == "list":
        return granted
    if operation.kind == "global":
        return granted and scope == "all"
    return granted and scope != "other"


@dataclass
class World:
    """Project A with one of everything, project B, and the acting principal's tokens."""

    ids: dict[str, str]
    token: str  # the principal's bearer token


def _token(db: Session, name: str, role: str, projects: list[str] | None) -> tuple[str, str]:
    admin = Principal(subject="matrix-admin", role="admin")
    data = ApiTokenCreate.model_validate(
        {"name": name, "principal": name, "role": role, "projectIds": projects}
    )
    row, secret = tokens.create_token(db, principal=admin, data=data)
    return str(row.id), secret


def _world(client: TestClient, database: Database, role: str, scope: str) -> World:
    admin = {"Authorization": f"Bearer {TOKEN}"}

    def create(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=payload, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    tag = uuid.uuid4().hex[:8]
    project = create("/v1/projects", {"name": f"A {tag}", "defaultNamespace": "a"})
    other = create("/v1/projects", {"name": f"B {tag}", "defaultNamespace": "b"})
    template = create(
        "/v1/templates",
        {
            "name": f"T {tag}",
            "image": "python:3.12",
            "projectId": project["id"],
            "exposedPorts": [{"name": "web", "port": 8000}],
        },
    )
    sandbox = create(
        "/v1/sandboxes",
        {"projectId": project["id"], "templateId": template["id"], "name": f"box {tag}"},
    )
    sandbox_path = f"/v1/sandboxes/{sandbox['id']}"
    session = create(f"{sandbox_path}/sessions", {"type": "ide"})
    link = create(f"{sandbox_path}/preview-links", {"port": 8000})
    credential = create(
        f"/v1/projects/{project['id']}/credentials",
        {"name": "Deploy", "type": "ssh", "secretRef": {"name": "deploy"}},
    )
    scoped = {"all": None, "own": [project["id"]], "other": [other["id"]]}[scope]
    with database.session() as db:
        task = ExecutionTaskRow(
            project_id=uuid.UUID(project["id"]),
            sandbox_id=uuid.UUID(sandbox["id"]),
            command=["true"],
            status="succeeded",
        )
        artifact = ArtifactRow(
            project_id=uuid.UUID(project["id"]),
            sandbox_id=uuid.UUID(sandbox["id"]),
            kind="file",
            name="notes.txt",
            uri="workspace:///notes.txt",
        )
        db.add_all([task, artifact])
        db.commit()
        name = f"{role}-{scope}-{tag}"
        _, secret = _token(db, name, role, scoped)
        spare, _ = _token(db, name, role, scoped)
    ids = {
        "projectID": project["id"],
        "templateID": template["id"],
        "sandboxID": sandbox["id"],
        "sessionID": session["id"],
        "linkID": link["id"],
        "credentialID": credential["id"],
        "taskID": str(task.id),
        "artifactID": str(artifact.id),
        "tokenID": spare,
        "port": "8000",
        "path": "index.html",
        "contextID": "default",
    }
    return World(ids, secret)


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def _call(client: TestClient, method: str, path: str, operation: Op, world: World):
    headers = {"Authorization": f"Bearer {world.token}"}
    body: dict[str, Any] = {}
    if operation.json == "template":
        body["json"] = {"name": "Mine", "image": "python:3.12", "projectId": world.ids["projectID"]}
    elif operation.json == "sandbox":
        body["json"] = {
            "projectId": world.ids["projectID"],
            "templateId": world.ids["templateID"],
            "name": "another",
        }
    elif operation.json is not None:
        body["json"] = operation.json
    if operation.content is not None:
        body["content"] = operation.content
        headers["Content-Type"] = "application/octet-stream"
    return client.request(
        method,
        _url(path, world.ids),
        params=operation.query,
        headers=headers,
        follow_redirects=False,
        **body,
    )


def _denied(status: int, message: str) -> bool:
    return status == 403 or (status == 404 and message in DENYING_404)


def _websocket(client: TestClient, path: str, world: World) -> tuple[int, str]:
    """The status a WebSocket upgrade is refused with (101 when accepted)."""
    headers = {"Authorization": f"Bearer {world.token}"}
    try:
        with client.websocket_connect(_url(path, world.ids), headers=headers) as socket:
            socket.close()
            return 101, ""
    except WebSocketDenialResponse as refused:
        return refused.status_code, _error(refused)
    except WebSocketDisconnect as exc:
        return exc.code - 4000, exc.reason


def _openapi_operations(client: TestClient) -> set[tuple[str, str]]:
    document = client.get("/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert document.status_code == 200, document.text
    found = set()
    for path, methods in document.json()["paths"].items():
        for method, details in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                is_socket = "101" in details.get("responses", {})
                found.add(("WS" if is_socket else method.upper(), path))
    return found


@pytest.fixture
def app_client(settings, database) -> TestClient:
    return TestClient(build_api(settings, database, api_token=TOKEN))


def test_every_operation_is_classified(app_client: TestClient) -> None:
    documented = _openapi_operations(app_client)
    # The preview proxy's WebSocket shares its path with the documented GET.
    sockets = {(m, p.split("?")[0]) for m, p in WEBSOCKETS if "/proxy/" not in p}
    classified = set(OPERATIONS) | sockets
    assert documented - classified == set(), "classify these operations in OPERATIONS"
    assert classified - documented == set(), "these operations are no longer documented"


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_the_matrix(app_client: TestClient, database: Database, role: str, scope: str) -> None:
    world = _world(app_client, database, role, scope)
    wrong: list[str] = []
    ordered = sorted(OPERATIONS.items(), key=lambda item: item[1].last)
    # The sandbox goes last of all: everything else needs it.
    ordered.sort(key=lambda item: item[0] == ("DELETE", "/v1/sandboxes/{sandboxID}"))
    for (method, path), operation in ordered:
        response = _call(app_client, method, path, operation, world)
        message = _error(response)
        assert response.status_code != 401, f"{method} {path}: {response.text}"
        # (502: the runtime refused, after authorization: these sandboxes never started.)
        assert response.status_code in range(500) or response.status_code == 502, (
            f"{method} {path}: {response.text}"
        )
        allowed = not _denied(response.status_code, message)
        if allowed != expected(operation, role, scope):
            wrong.append(f"{method} {path} -> {response.status_code} {message}")
    assert wrong == [], f"{role} scoped to {scope}: " + "; ".join(wrong)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_the_websockets(app_client: TestClient, database: Database, role: str, scope: str) -> None:
    world = _world(app_client, database, role, scope)
    for (_, path), operation in WEBSOCKETS.items():
        status, message = _websocket(app_client, path, world)
        assert status not in (401, 0), f"{path}: {status} {message}"
        allowed = not _denied(status, message)
        assert allowed == expected(operation, role, scope), f"{path}: {status} {message}"


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_the_projects_in_scope(
    app_client: TestClient, database: Database, role: str
) -> None:
    world = _world(app_client, database, role, "other")
    headers = {"Authorization": f"Bearer {world.token}"}
    for path in ("/v1/projects", "/v1/templates", "/v1/sandboxes"):
        listed = app_client.get(path, headers=headers).json()["items"]
        leaked = [
            item for item in listed if world.ids["projectID"] in (item["id"], item.get("projectId"))
        ]
        assert leaked == [], f"{path} shows project A's resources to a project B token"
    if "audit" in GRANTS[role]:
        events = app_client.get("/v1/audit-events", headers=headers).json()["items"]
        assert all(event.get("projectId") not in (None, world.ids["projectID"]) for event in events)


def _error(response: Any) -> str:
    try:
        return response.json().get("error", "")
    except ValueError:
        return ""
