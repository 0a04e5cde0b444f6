"""The console's reads of sandboxes: a filtered page with its total, and the launch plan
whose blockers are exactly the refusals of a launch (SQLite and Postgres)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from backend.auth.models import Principal
from backend.auth.service import console_principal
from backend.errors import NotFound, PolicyDenied
from backend.metrics.service import store_round
from backend.policy.models import ProjectPolicyRow, ProjectQuotaPolicyRow
from backend.runtime.base import ResourceSample
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxCreate
from state import sandboxes as console_state

ADMIN = Principal(subject="test", source="test")


def ids(rows) -> list[str]:
    return [str(row.id) for row in rows]


def page(database, **filters):
    with database.session() as db:
        rows, total = sandboxes.page_sandboxes(db, **filters)
        return ids(rows), total


def test_pages_are_newest_first_with_the_total(api, database):
    project, template = api.project(), api.template()
    created = [api.sandbox(project, template, name=f"box {n}")["id"] for n in range(7)]
    newest_first = created[::-1]
    assert page(database, limit=3) == (newest_first[:3], 7)
    assert page(database, offset=3, limit=3) == (newest_first[3:6], 7)
    assert page(database, offset=6, limit=3) == (newest_first[6:], 7)
    assert page(database, offset=9, limit=3) == ([], 7)


def test_filters_narrow_the_page_and_the_total(client, api, database):
    alpha, beta = api.project(), api.project()
    shell, web = api.template(), api.template()
    a1 = api.sandbox(alpha, shell, name="Alpha One")["id"]
    a2 = api.sandbox(alpha, web, name="alpha two")["id"]
    b1 = api.sandbox(beta, web, name="Beta 100%")["id"]
    gone = api.sandbox(beta, web, name="alpha gone")["id"]
    assert client.post(f"/v1/sandboxes/{a2}/stop").status_code == 200
    assert client.delete(f"/v1/sandboxes/{gone}").status_code == 204

    assert page(database, project_id=uuid.UUID(alpha["id"])) == ([a2, a1], 2)
    assert page(database, template_id=uuid.UUID(web["id"])) == ([b1, a2], 2)
    assert page(database, status="stopped") == ([a2], 1)
    assert page(database, status="pending") == ([b1, a1], 2)
    # Name or slug, any case; the deleted one never shows.
    assert page(database, search="ALPHA") == ([a2, a1], 2)
    assert page(database, search="  one ") == ([a1], 1)
    assert page(database, search="beta-100") == ([b1], 1)
    # LIKE's wildcards are taken literally.
    assert page(database, search="100%") == ([b1], 1)
    assert page(database, search="_") == ([], 0)
    assert page(database, project_id=uuid.UUID(alpha["id"]), status="running") == ([], 0)


def plan(database, project: dict, template: dict | None = None, **fields):
    with database.session() as db:
        return sandboxes.plan_launch(
            db,
            project_id=uuid.UUID(project["id"]),
            template_id=template["id"] if template else None,
            **fields,
        )


def test_plan_resolves_what_the_launch_will_use(api, database):
    project = api.project(defaultNamespace="team-a")
    template = api.template(name="Web", image="node:22")
    api.client.patch(f"/v1/projects/{project['id']}", json={"defaultTemplateId": template["id"]})
    found = plan(database, project)  # no template: the project's default
    assert (found.template.name, found.template.image) == ("Web", "node:22")
    assert (found.namespace, found.service_account) == ("team-a", "mbox-sandbox")
    assert found.blockers == []
    sandbox = api.sandbox(project)
    assert (sandbox["namespace"], sandbox["serviceAccountName"]) == ("team-a", "mbox-sandbox")


def test_plan_of_a_missing_project_is_not_found(database):
    with pytest.raises(NotFound), database.session() as db:
        sandboxes.plan_launch(db, project_id=uuid.uuid4())


def launch_refusal(database, project: dict, template: dict, **fields) -> str:
    data = SandboxCreate.model_validate(
        {"projectId": project["id"], "templateId": template["id"], "name": "x", **fields}
    )
    with pytest.raises(PolicyDenied) as refused, database.session() as db:
        sandboxes.create_sandbox(db, principal=ADMIN, data=data)
    return refused.value.message


def test_plan_blockers_are_the_launch_refusals(api, database):
    project, other = api.project(), api.project()
    foreign = api.template(projectId=other["id"])
    assert plan(database, project, foreign).blockers == ["template belongs to a different project"]
    assert launch_refusal(database, project, foreign) == (
        "policy denied: template belongs to a different project"
    )

    template = api.template(image="docker.io/evil:latest")
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
    blockers = plan(database, project, template, service_account="admin").blockers
    assert blockers == [
        'image "docker.io/evil:latest" is not allowed',
        'serviceAccountName "admin" is not allowed',
    ]
    refusal = launch_refusal(database, project, template, serviceAccountName="admin")
    assert refusal == "policy denied: " + "; ".join(blockers)


def test_plan_blocks_when_the_active_quota_is_reached(api, database):
    project, template = api.project(), api.template()
    with database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(project["id"]), enforcement="enforced", max_active_sandboxes=1
            )
        )
        db.commit()
    assert plan(database, project, template).blockers == []
    api.sandbox(project, template)
    quota = "active sandbox quota exceeded: maxActiveSandboxes=1 active=1"
    assert plan(database, project, template).blockers == [quota]
    assert launch_refusal(database, project, template) == f"policy denied: {quota}"


# -- the console's use of them (state/sandboxes.py), on the same database -----------------


# The console acts as the signed-in principal (state/base.py `acting`), labelled console.
ALICE = console_principal(Principal(subject="alice", role="developer"))


@pytest.fixture
def console(database, monkeypatch):
    monkeypatch.setattr(
        console_state, "db_session", lambda principal: database.session(principal.projects)
    )
    return console_state


def test_console_page_falls_back_to_the_last_page(api, console, monkeypatch):
    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    project, template = api.project(), api.template()
    for n in range(3):
        api.sandbox(project, template, name=f"box {n}")

    def names(query):
        items, total, offset = console.read_page(ALICE, query)
        return [item.name for item in items], total, offset

    assert names(console.ListQuery()) == (["box 2", "box 1"], 3, 0)
    assert names(console.ListQuery(offset=2)) == (["box 0"], 3, 2)
    assert names(console.ListQuery(offset=10)) == (["box 0"], 3, 2)
    assert names(console.ListQuery(search="nothing", offset=4)) == ([], 0, 0)


def test_console_rows_show_the_latest_sample(api, console, database):
    project, template = api.project(), api.template()
    measured = api.sandbox(project, template, name="measured")
    api.sandbox(project, template, name="quiet")
    sample = ResourceSample(
        at=datetime.now(UTC), source="cgroups", memory_bytes=85 * 1024 * 1024, processes=4
    )
    with database.session() as db:
        store_round(
            db,
            samples={uuid.UUID(measured["id"]): sample},
            projects={uuid.UUID(measured["id"]): uuid.UUID(project["id"])},
            retention_seconds=3600,
        )
    items, _, _ = console.read_page(ALICE, console.ListQuery())
    usage = {item.name: (item.usage, item.usage_full) for item in items}
    assert usage["measured"][0] == "— · 85 MiB"
    assert "4 processes" in usage["measured"][1]
    assert usage["quiet"][0] == "—" and "No recent sample" in usage["quiet"][1]


def test_console_bulk_actions_report_each_failure_by_name(api, console):
    project, template = api.project(), api.template()
    kept = api.sandbox(project, template, name="kept")
    gone = api.sandbox(project, template, name="gone")
    assert api.client.delete(f"/v1/sandboxes/{gone['id']}").status_code == 204
    targets = [(gone["id"], "gone", project["id"]), (kept["id"], "kept", project["id"])]
    acted = console.act_on_each(ALICE, "stop", targets)
    assert acted.failures == ["gone: resource not found"] and acted.fix_href == ""
    assert api.client.get(f"/v1/sandboxes/{kept['id']}").json()["status"] == "stopped"
    [event] = api.audit(action="sandbox.stopped")
    assert (event["principal"], event["actor"], event["source"]) == ("alice", "alice", "console")


def test_console_plan_in_words(api, console):
    project = api.project(defaultNamespace="team-b")
    template = api.template(
        image="node:22",
        exposedPorts=[{"name": "web", "port": 3000}, {"name": "api", "port": 8080}],
        cpuRequest="250m",
        storageRequest="2Gi",
        metadata={"validationStatus": "passed"},
    )
    plan = console.read_plan(ALICE, project["id"], template["id"])
    assert plan.ports == "web :3000, api :8080"
    assert plan.size == "250m CPU · 2Gi workspace"
    assert plan.validation == "Validated"
    assert (plan.namespace, plan.service_account, plan.blockers) == ("team-b", "mbox-sandbox", [])
    assert console.read_plan(ALICE, "", template["id"]) == console.LaunchPlanView()
