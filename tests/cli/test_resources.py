"""Projects, templates, credentials, sessions, the runtime and the audit feed through the
CLI, against the live server."""

from __future__ import annotations

import json
import uuid

import yaml

from tests.cli.conftest import Cli


def test_projects(cli: Cli, project) -> None:
    slug = project["slug"]
    assert cli.json("project", "get", slug)["id"] == project["id"]  # alias, by slug
    updated = cli.json(
        "projects",
        "update",
        slug,
        "--repository-url",
        "https://git.example/x",
        "--metadata",
        '{"team": "cli"}',
    )
    assert updated["repositoryUrl"] == "https://git.example/x"
    assert updated["metadata"] == {"team": "cli"}
    assert "sandboxes" in cli.json("projects", "usage", slug)
    assert cli.json("projects", "policy", slug)["enforcement"] == "disabled"
    policy = cli.json(
        "projects",
        "set-policy",
        slug,
        "--enforcement",
        "enforced",
        "--allowed-image-prefix",
        "local",
        "--allowed-image-prefix",
        "python:",
    )
    assert policy["allowedImagePrefixes"] == ["local", "python:"]
    assert policy.get("allowedServiceAccounts", []) == []
    cli("projects", "set-policy", slug, "--enforcement", "disabled")
    quota = cli.json(
        "projects",
        "set-quota",
        slug,
        "--enforcement",
        "enforced",
        "--max-active-sandboxes",
        "50",
        "--max-live-terminals",
        "-1",
    )
    assert quota["maxActiveSandboxes"] == 50 and quota.get("maxLiveTerminals") is None
    assert cli.json("projects", "quota-policy", slug)["maxActiveSandboxes"] == 50
    assert cli.json("projects", "quota", slug)["enforcement"] == "enforced"
    cli("projects", "set-quota-policy", slug, "--enforcement", "disabled")
    events = cli.json("projects", "audit-events", slug, "--action", "project.policy.updated")
    assert events["items"] and {e["resourceId"] for e in events["items"]} <= {project["id"]}

    other = cli.json(
        "projects",
        "create",
        "--name",
        f"gone {uuid.uuid4().hex[:6]}",
        "--namespace",
        "cli-tests",
        "--slug",
        f"gone-{uuid.uuid4().hex[:6]}",
    )
    assert cli("projects", "delete", other["slug"]).out == "deleted\n"
    assert "[HTTP 404]" in cli("projects", "get", other["id"], code=1).err


def test_projects_create_needs_its_options(cli: Cli) -> None:
    assert "--name" in cli("projects", "create", code=2).err


def test_credentials(cli: Cli, project) -> None:
    created = cli.json(
        "projects",
        "add-credential",
        project["slug"],
        "--name",
        "registry",
        "--type",
        "registry",
        "--secret-ref",
        "regcred",
        "--secret-key",
        "json",
        "--usage",
        "image-pull",
    )
    assert created["secretRef"] == {"name": "regcred", "key": "json"}
    assert "value" not in created["secretRef"]
    also = cli.json(
        "credentials",
        "create",
        project["id"],
        "--name",
        "git",
        "--type",
        "git",
        "--secret-ref",
        "gitcred",
    )
    listed = cli.json("projects", "credentials", project["slug"])
    assert {created["id"], also["id"]} <= {item["id"] for item in listed["items"]}
    assert cli.json("credential", "get", created["id"])["name"] == "registry"
    assert cli.json("credentials", "list", project["slug"])["items"]
    assert cli("credentials", "delete", also["id"]).out == "deleted\n"
    cli("credentials", "delete", created["id"])


def test_templates(cli: Cli, project) -> None:
    listed = cli.json("templates", "list")
    assert {"shell", "python", "nodejs"} <= {item["slug"] for item in listed["items"]}
    assert cli.json("template", "get", "python")["slug"] == "python"
    table = cli("templates", "list", "-o", "table").out
    assert table.split()[:4] == ["ID", "SLUG", "NAME", "IMAGE"] and "nodejs" in table

    slug = f"cli-web-{uuid.uuid4().hex[:6]}"
    created = cli.json(
        "templates",
        "create",
        "--name",
        "CLI web",
        "--image",
        "local",
        "--project-id",
        project["slug"],
        "--slug",
        slug,
        "--port",
        "http:8000",
        "--env",
        "GREETING=hi",
        "--cpu",
        "250m",
    )
    assert created["projectId"] == project["id"]
    assert [(p["name"], p["port"]) for p in created["exposedPorts"]] == [("http", 8000)]
    assert created["env"] == {"GREETING": "hi"} and created["cpuRequest"] == "250m"
    updated = cli.json("templates", "update", created["id"], "--memory", "256Mi")
    assert updated["memoryRequest"] == "256Mi"
    boundary = cli.json("templates", "boundary", created["id"], "--project-id", project["id"])
    assert boundary
    assert "nothing to change" in cli("templates", "update", created["id"], code=2).err

    run = cli.json("templates", "validate-run", created["id"], "--project-id", project["id"])
    assert run["template"]["id"] == created["id"]
    sandbox_id = run["sandbox"]["id"]
    decided = cli.json("templates", "decision", created["id"], sandbox_id, "--status", "passed")
    assert decided["template"]["metadata"]["validationStatus"] == "passed"
    # the reference's names: validate, decide-validation
    assert "validate" in cli("templates", "validate", "-h").out
    failed = cli.json(
        "templates", "decide-validation", created["id"], sandbox_id, "--status", "failed"
    )
    assert failed["sandbox"]["metadata"]["validationResult"] == "failed"
    assert (
        "passed or failed"
        in cli("templates", "decision", created["id"], sandbox_id, "--status", "maybe", code=2).err
    )
    cli("sandboxes", "delete", sandbox_id)
    assert cli("templates", "delete", created["id"]).out == "deleted\n"


def test_templates_with_a_build_recipe(cli: Cli, project, tmp_path) -> None:
    """--build (a file or inline JSON) and --image-pull-policy on create and update, and
    `templates build`: the recipe's state on the runtime (not built: nothing launched)."""
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"base": "debian:bookworm", "packages": ["hello"]}))
    created = cli.json(
        "templates",
        "create",
        "--name",
        "CLI built",
        "--image",
        "app:1",
        "--project-id",
        project["slug"],
        "--image-pull-policy",
        "IfNotPresent",
        "--build",
        f"@{recipe}",
    )
    assert created["imagePullPolicy"] == "IfNotPresent"
    assert created["build"] == {
        "base": "debian:bookworm",
        "packages": ["hello"],
        "files": [],
        "run": [],
        "verify": "",
        "user": "user",
    }
    build = cli.json("templates", "build", created["id"])
    assert build["templateId"] == created["id"] and build["state"] == "not-built"
    assert build["reference"].startswith("build:sha256:")
    assert yaml.safe_load(cli("templates", "build", created["id"], "-o", "yaml").out)["state"] == (
        "not-built"
    )
    table = cli("templates", "build", created["id"], "-o", "table").out
    assert "state" in table and "not-built" in table and "build:sha256:" in table

    updated = cli.json(
        "templates",
        "update",
        created["id"],
        "--build",
        '{"base": "debian:trixie", "packages": ["hello"], "user": "root"}',
        "--image-pull-policy",
        "Never",
    )
    assert updated["build"]["base"] == "debian:trixie" and updated["build"]["user"] == "root"
    assert updated["imagePullPolicy"] == "Never"
    assert (
        "--build: not valid JSON"
        in cli("templates", "update", created["id"], "--build", "{nope", code=2).err
    )
    refused = cli("templates", "update", created["id"], "--image-pull-policy", "Sometimes", code=1)
    assert "imagePullPolicy must be" in refused.err
    removed = cli.json("templates", "update", created["id"], "--build", "{}")
    assert "build" not in removed
    assert cli.json("templates", "build", created["id"])["state"] == "none"
    assert cli("templates", "delete", created["id"]).out == "deleted\n"


def test_sessions(cli: Cli, sandbox) -> None:
    created = cli.json("sessions", "create", sandbox["slug"], "--type", "command")
    assert created["client"] == "mbox-cli"
    listed = cli.json("sessions", "list", sandbox["id"])
    assert created["id"] in [item["id"] for item in listed["items"]]
    assert cli.json("session", "get", created["id"])["id"] == created["id"]
    assert cli.json("sessions", "end", created["id"])["endedAt"]


def test_runtime(cli: Cli, sandbox) -> None:
    resources = cli.json("runtime", "resources")
    assert resources["items"]
    summary = cli.json("runtime", "resource", "--summary")
    assert summary["total"] >= 1
    assert "orphanCount" in cli.json("runtime", "orphans")
    images = cli.json("runtime", "images")
    assert images["adapter"] == "local" and images["kept"] is True
    assert isinstance(images["items"], list)
    assert yaml.safe_load(cli("runtime", "images", "-o", "yaml").out)["adapter"] == "local"
    table = cli("runtime", "images", "-o", "table").out
    assert table.split()[:2] == ["DIGEST", "REFERENCES"] and "LAST USED" in table
    refused = cli(
        "runtime",
        "cleanup-orphan",
        "--kind",
        "Cgroup",
        "--namespace",
        "local",
        "--name",
        "x",
        "--reason",
        "test",
        "--confirm",
        "yes",
        code=2,
    )
    assert "delete-orphan-runtime-resource" in refused.err


def test_audit_events_filters(cli: Cli, project) -> None:
    request_id = f"cli-req-{uuid.uuid4().hex[:8]}"
    made = cli.json(
        "projects",
        "create",
        "--name",
        f"audited {request_id}",
        "--namespace",
        "a",
        "--request-id",
        request_id,
        "--audit-actor",
        "cli-tester",
    )
    by_request = cli.json("audit-events", "--filter-request-id", request_id)["items"]
    assert by_request and {e["metadata"]["requestId"] for e in by_request} == {request_id}
    assert by_request[0]["actor"] == "cli-tester"

    by_action = cli.json("audit-events", "--action", "project.created", "--limit", "3")["items"]
    assert 1 <= len(by_action) <= 3 and {e["action"] for e in by_action} == {"project.created"}
    by_resource = cli.json(
        "audit-events", "--resource-type", "project", "--resource-id", made["id"]
    )["items"]
    assert by_resource and {e["resourceId"] for e in by_resource} == {made["id"]}
    by_project = cli.json("audit-events", "--project-id", made["slug"], "--all")["items"]
    assert by_project and all(e.get("projectId") in (made["id"], None) for e in by_project)
    assert cli.json(
        "audit-events",
        "--actor",
        "cli-tester",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2999-01-01T00:00:00Z",
    )["items"]
    assert cli.json("audit-events", "--since", "2999-01-01T00:00:00Z")["items"] == []
    assert cli.json("audit-events", "--source", "no-such-source")["items"] == []
    table = cli("audit-events", "--filter-request-id", request_id, "-o", "table").out
    assert table.split()[:2] == ["TIME", "ACTION"] and "project.created" in table
    assert yaml.safe_load(cli("audit-events", "--limit", "1", "-o", "yaml").out)["items"]


def test_a_policy_denial_names_every_broken_rule(cli: Cli) -> None:
    slug = f"cli-pol-{uuid.uuid4().hex[:6]}"
    cli("projects", "create", "--name", slug, "--slug", slug, "--namespace", "cli-tests")
    cli(
        "projects",
        "set-policy",
        slug,
        "--enforcement",
        "enforced",
        "--allowed-image-prefix",
        "registry.example/",
        "--allowed-service-account",
        "builder",
    )
    denied = cli(
        "sandboxes",
        "create",
        "--project",
        slug,
        "--template",
        "python",
        "--service-account",
        "root",
        code=1,
    )
    first, *rules = denied.err.splitlines()
    assert first.startswith("mbox: policy denied") and "[HTTP 403]" in first
    assert "sandbox.launch denied by:" in first
    assert [rule.split(":")[0].strip() for rule in rules[:2]] == [
        "- allowedImagePrefixes",
        "- allowedServiceAccounts",
    ]
    assert rules[-1].strip().startswith("request id: ")
    cli("projects", "delete", slug)
