"""The launch policy and the quotas on every path that changes what runs or where: allowed,
and denied with the reference's message, the structured `denial`, a `policy.denied` audit
event naming the operation, and nothing else changed (SQLite and Postgres)."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import WebSocketDenialResponse

from backend.auth.models import Principal
from backend.errors import PolicyDenied
from backend.sandboxes.models import SandboxRow
from backend.sessions import service as sessions

ADMIN = Principal(subject="test", source="test")
REF = {"adapter": "local", "kind": "Process", "namespace": "mbox-test", "name": "x"}


def enforce(client, project: dict, **rules) -> None:
    body = {"enforcement": "enforced", **rules}
    written = client.put(f"/v1/projects/{project['id']}/policy", json=body)
    assert written.status_code == 200, written.text


def limit(client, project: dict, **limits) -> dict:
    body = {"enforcement": "enforced", **limits}
    written = client.put(f"/v1/projects/{project['id']}/quota-policy", json=body)
    assert written.status_code == 200, written.text
    return written.json()


def denied(response, operation: str) -> list[dict]:
    """The rules of a 403 denial, after checking its message and shape."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert set(body) == {"error", "denial"}
    assert body["denial"]["operation"] == operation
    rules = body["denial"]["rules"]
    assert body["error"] == "policy denied: " + "; ".join(rule["message"] for rule in rules)
    return rules


def last_denial(api, operation: str) -> dict:
    """The newest `policy.denied` event, which must be about `operation`."""
    event = api.audit(action="policy.denied")[0]
    assert event["metadata"]["operation"] == operation
    assert event["metadata"]["reason"] == "; ".join(
        r["message"] for r in event["metadata"]["rules"]
    )
    return event


def set_running(database, sandbox: dict) -> None:
    """As the reconciler reports a sandbox that came up."""
    with database.session() as db:
        row = db.get(SandboxRow, uuid.UUID(sandbox["id"]))
        row.status, row.runtime_ref = "running", REF
        db.commit()


# -- launch policy -------------------------------------------------------------------------


def test_launch_is_denied_with_rules_and_allowed_within_the_policy(client, api, row_counts):
    project = api.project()
    evil = api.template(image="docker.io/evil:1", secretRefs=[{"name": "prod-db"}])
    good = api.template(image="ghcr.io/acme/app:1")
    enforce(client, project, allowedImagePrefixes=["ghcr.io/acme/"])
    before = row_counts()
    payload = {"projectId": project["id"], "templateId": evil["id"], "name": "x"}
    rules = denied(client.post("/v1/sandboxes", json=payload), "sandbox.launch")
    assert rules == [
        {
            "rule": "allowedImagePrefixes",
            "value": "docker.io/evil:1",
            "message": 'image "docker.io/evil:1" is not allowed',
        },
        {
            "rule": "allowedSecretRefs",
            "value": "prod-db",
            "message": 'secretRef "prod-db" is not allowed',
        },
    ]
    event = last_denial(api, "sandbox.launch")
    assert event["metadata"]["rules"] == rules and event["projectId"] == project["id"]
    after = row_counts()
    assert after.pop("audit_events") == before.pop("audit_events") + 1
    assert after == before
    api.sandbox(project, good)


def test_validation_runs_take_the_launch_checks(client, api):
    project = api.project()
    template = api.template(projectId=project["id"], image="docker.io/x:1")
    path = f"/v1/templates/{template['id']}/validation-runs"
    enforce(client, project, allowedImagePrefixes=["ghcr.io/"])
    rules = denied(client.post(path, json={}), "template.validation")
    assert [rule["rule"] for rule in rules] == ["allowedImagePrefixes"]
    last_denial(api, "template.validation")

    enforce(client, project)  # enforced, no rules: any image
    limit(client, project, maxRunningSandboxes=0)
    rules = denied(client.post(path, json={}), "template.validation")
    assert rules == [
        {
            "rule": "maxRunningSandboxes",
            "value": 1,
            "message": "running sandbox quota exceeded: maxRunningSandboxes=0 running=0",
            "limit": 0,
            "current": 0,
            "requested": 1,
        }
    ]
    limit(client, project, maxRunningSandboxes=1)
    assert client.post(path, json={}).status_code == 201


def test_sandbox_patch_of_identity_or_namespace_is_held_to_the_policy(client, api, row_counts):
    project, template = api.project(), api.template(image="docker.io/x:1")
    sandbox = api.sandbox(project, template)
    path = f"/v1/sandboxes/{sandbox['id']}"
    enforce(client, project, allowedServiceAccounts=["mbox-sandbox", "builder"])
    before = row_counts()
    rules = denied(client.patch(path, json={"serviceAccountName": "admin"}), "sandbox.update")
    assert rules == [
        {
            "rule": "allowedServiceAccounts",
            "value": "admin",
            "message": 'serviceAccountName "admin" is not allowed',
        }
    ]
    assert row_counts()["sandboxes"] == before["sandboxes"]
    assert client.get(path).json()["serviceAccountName"] == "mbox-sandbox"
    assert client.patch(path, json={"serviceAccountName": "builder"}).status_code == 200

    # The policy now refuses the sandbox's image: it may not move to another namespace.
    enforce(client, project, allowedImagePrefixes=["ghcr.io/"], allowedServiceAccounts=[])
    rules = denied(client.patch(path, json={"namespace": "elsewhere"}), "sandbox.update")
    assert [rule["rule"] for rule in rules] == ["allowedImagePrefixes"]
    event = last_denial(api, "sandbox.update")
    assert event["metadata"]["namespace"] == "elsewhere"
    assert client.get(path).json()["namespace"] == "mbox-test"
    assert client.patch(path, json={"name": "renamed"}).status_code == 200  # not placement
    enforce(client, project)
    assert client.patch(path, json={"namespace": "elsewhere"}).json()["namespace"] == "elsewhere"


def test_start_reevaluates_the_current_template_and_policy(client, api):
    project, template = api.project(), api.template(image="ghcr.io/acme/app:1")
    sandbox = api.sandbox(project, template)
    path = f"/v1/sandboxes/{sandbox['id']}"
    assert client.post(f"{path}/stop").status_code == 200
    # The template changes while no policy is enforced, then the policy is enforced.
    assert client.patch(f"/v1/templates/{template['id']}", json={"image": "evil:1"}).is_success
    enforce(client, project, allowedImagePrefixes=["ghcr.io/acme/"])
    rules = denied(client.post(f"{path}/start"), "sandbox.start")
    assert rules[0] | {"value": None} == {
        "rule": "allowedImagePrefixes",
        "value": None,
        "message": 'image "evil:1" is not allowed',
    }
    assert last_denial(api, "sandbox.start")["metadata"]["sandboxId"] == sandbox["id"]
    assert client.get(path).json()["status"] == "stopped"
    enforce(client, project, allowedImagePrefixes=["evil"])
    assert client.post(f"{path}/start").json()["status"] == "pending"


def test_template_edits_that_would_break_live_sandboxes_are_refused(client, api, row_counts):
    project = api.project()
    template = api.template(image="ghcr.io/acme/app:1")
    first, second = api.sandbox(project, template), api.sandbox(project, template)
    enforce(client, project, allowedImagePrefixes=["ghcr.io/acme/"], allowedSecretRefs=["db"])
    path = f"/v1/templates/{template['id']}"
    before = row_counts()
    rules = denied(client.patch(path, json={"image": "docker.io/evil:1"}), "template.update")
    assert [(rule["rule"], rule["sandboxId"]) for rule in rules] == [
        ("allowedImagePrefixes", first["id"]),
        ("allowedImagePrefixes", second["id"]),
    ]
    assert rules[0]["message"] == (
        f'sandbox "{first["slug"]}": image "docker.io/evil:1" is not allowed'
    )
    event = last_denial(api, "template.update")
    assert event["metadata"]["sandboxIds"] == [first["id"], second["id"]]
    assert client.get(path).json()["image"] == "ghcr.io/acme/app:1"
    assert row_counts()["environment_templates"] == before["environment_templates"]

    secrets = {"secretRefs": [{"name": "db"}, {"name": "prod"}]}
    rules = denied(client.patch(path, json=secrets), "template.update")
    assert {rule["value"] for rule in rules} == {"prod"}
    assert client.patch(path, json={"name": "Renamed"}).status_code == 200  # not covered
    assert client.patch(path, json={"secretRefs": [{"name": "db"}]}).status_code == 200

    # Deleted sandboxes do not hold the template back.
    for sandbox in (first, second):
        assert client.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    assert client.patch(path, json={"image": "docker.io/evil:1"}).status_code == 200


def test_template_edits_are_free_where_no_policy_is_enforced(client, api):
    project, template = api.project(), api.template(image="ghcr.io/acme/app:1")
    api.sandbox(project, template)
    enforced_elsewhere = api.project()
    enforce(client, enforced_elsewhere, allowedImagePrefixes=["ghcr.io/"])
    path = f"/v1/templates/{template['id']}"
    assert client.patch(path, json={"image": "docker.io/x:1"}).status_code == 200


# -- preview -------------------------------------------------------------------------------


def test_preview_lists_what_a_policy_would_deny_and_writes_nothing(client, api, row_counts):
    project, other = api.project(), api.project()
    shared = api.template(image="docker.io/shared:1")
    own = api.template(projectId=project["id"], image="ghcr.io/acme/own:1")
    api.template(projectId=other["id"], image="docker.io/theirs:1")  # not usable: not listed
    sandbox = api.sandbox(project, shared)
    api.sandbox(project, own)
    gone = api.sandbox(project, shared)
    assert client.delete(f"/v1/sandboxes/{gone['id']}").status_code == 204
    before = row_counts()
    body = {"enforcement": "enforced", "allowedImagePrefixes": ["ghcr.io/acme/"]}
    response = client.post(f"/v1/projects/{project['id']}/policy/preview", json=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert row_counts() == before
    assert client.get(f"/v1/projects/{project['id']}/policy").json()["enforcement"] == "disabled"
    assert preview["enforcement"] == "enforced" and preview["checkedSandboxes"] == 2
    assert preview["checkedTemplates"] >= 2  # own, shared (and the built-in ones)
    denied_templates = {item["id"]: item for item in preview["templates"]}
    assert shared["id"] in denied_templates and own["id"] not in denied_templates
    assert denied_templates[shared["id"]]["rules"][0]["rule"] == "allowedImagePrefixes"
    [item] = preview["sandboxes"]
    assert (item["kind"], item["id"], item["templateId"]) == (
        "sandbox",
        sandbox["id"],
        shared["id"],
    )
    assert item["rules"][0]["message"] == 'image "docker.io/shared:1" is not allowed'

    disabled = client.post(
        f"/v1/projects/{project['id']}/policy/preview", json={"enforcement": "disabled"}
    ).json()
    assert disabled["templates"] == [] and disabled["sandboxes"] == []
    bad = client.post(f"/v1/projects/{project['id']}/policy/preview", json={"enforcement": "x"})
    assert bad.status_code == 400 and bad.json() == {
        "error": "enforcement must be disabled or enforced",
        "detail": {"field": "enforcement"},
    }
    assert client.post(f"/v1/projects/{uuid.uuid4()}/policy/preview", json=body).status_code == 404


# -- quotas on tasks and terminals ----------------------------------------------------------


def test_task_creation_is_held_to_tasks_in_progress(client, api, database, row_counts):
    project, template = api.project(), api.template()
    sandbox = api.sandbox(project, template)
    set_running(database, sandbox)
    limit(client, project, maxTasksInProgress=1)
    path = f"/v1/sandboxes/{sandbox['id']}/tasks"
    assert client.post(path, json={"command": ["true"]}).status_code == 201
    before = row_counts()
    rules = denied(client.post(path, json={"command": ["true"]}), "execution.task.create")
    assert rules == [
        {
            "rule": "maxTasksInProgress",
            "value": 1,
            "message": "tasks in progress quota exceeded: maxTasksInProgress=1 tasks=1",
            "limit": 1,
            "current": 1,
            "requested": 1,
        }
    ]
    last_denial(api, "execution.task.create")
    assert row_counts()["execution_tasks"] == before["execution_tasks"]


def open_terminal(database, sandbox: dict, terminal_id: uuid.UUID | None = None) -> uuid.UUID:
    """A session on a new terminal, or on the live terminal `terminal_id`."""
    with database.session() as db:
        return sessions.open_terminal_session(
            db,
            principal=ADMIN,
            sandbox_id=uuid.UUID(sandbox["id"]),
            terminal_id=terminal_id or uuid.uuid4(),
            client="web-terminal",
            user_agent="tests",
            metadata={},
            new_terminal=terminal_id is None,
        )


def test_new_terminals_are_held_to_live_terminals(client, api, database):
    project, template = api.project(), api.template()
    sandbox = api.sandbox(project, template)
    set_running(database, sandbox)
    limit(client, project, maxLiveTerminals=1)
    terminal = uuid.uuid4()
    with database.session() as db:
        first = sessions.open_terminal_session(
            db, principal=ADMIN, sandbox_id=uuid.UUID(sandbox["id"]), terminal_id=terminal,
            client="web-terminal", user_agent="tests", metadata={}, new_terminal=True,
        )  # fmt: skip
    with pytest.raises(PolicyDenied) as refused:
        open_terminal(database, sandbox)
    assert refused.value.message == (
        "policy denied: live terminal quota exceeded: maxLiveTerminals=1 terminals=1"
    )
    last_denial(api, "terminal.open")
    second = open_terminal(database, sandbox, terminal)  # another socket on the live one
    # The route refuses before the upgrade, with the denial's message.
    url = f"/v1/sandboxes/{sandbox['id']}/terminal"
    with pytest.raises(WebSocketDenialResponse) as denial, client.websocket_connect(url):
        pass
    assert denial.value.status_code == 403
    assert denial.value.json()["error"].startswith("policy denied: live terminal quota exceeded")
    with database.session() as db:
        for session_id in (first, second):
            sessions.close_terminal_session(db, principal=ADMIN, session_id=session_id)
    open_terminal(database, sandbox)  # the closed one no longer counts


def test_artifact_retention_denial_has_its_rule(client, api):
    project, template = api.project(), api.template()
    sandbox = api.sandbox(project, template)
    limit(client, project, maxRetainedArtifactBytes=10)
    payload = {"kind": "report", "name": "r.txt", "uri": "client://r.txt"}
    artifact = api.create(f"/v1/sandboxes/{sandbox['id']}/artifacts", payload)
    path = f"/v1/artifacts/{artifact['id']}/content"
    headers = {"Content-Type": "application/octet-stream"}
    refused = client.put(path, content=b"x" * 11, headers=headers)
    rules = denied(refused, "artifact.content.upload")
    assert rules == [
        {
            "rule": "maxRetainedArtifactBytes",
            "value": 11,
            "message": "retained artifact bytes quota exceeded: maxRetainedArtifactBytes=10 "
            "retained=0 incoming=11",
            "limit": 10,
            "current": 0,
            "requested": 11,
        }
    ]
    last_denial(api, "artifact.content.upload")
    assert client.put(path, content=b"x" * 10, headers=headers).status_code == 200
