"""Quotas on what runs, per project: limits written and validated, enforced atomically under
bursts of concurrent requests (each thread its own database session, as replicas would
be), cpu and memory summed from templates, and usage showing each against its limit
(SQLite and Postgres)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.errors import PolicyDenied
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxCreate, SandboxRow
from backend.tasks import service as tasks
from backend.tasks.models import ExecutionTaskCreate
from tests.api.test_policy_paths import ADMIN, REF, limit


def burst(database, count: int, act: Callable) -> list[str]:
    """`act(db, index)` from `count` threads at once; what each got, sorted."""

    def one(index: int) -> str:
        with database.session() as db:
            try:
                act(db, index)
            except PolicyDenied as denied:
                return denied.rules[0].rule
        return "ok"

    with ThreadPoolExecutor(max_workers=16) as pool:
        return sorted(pool.map(one, range(count)))


def launcher(project: dict, template: dict) -> Callable:
    def launch(db, index: int) -> None:
        data = SandboxCreate.model_validate(
            {"projectId": project["id"], "templateId": template["id"], "name": f"box {index}"}
        )
        sandboxes.create_sandbox(db, principal=ADMIN, data=data)

    return launch


def test_concurrent_launches_admit_exactly_the_active_limit(client, api, database):
    project, template = api.project(), api.template()
    limit(client, project, maxActiveSandboxes=10)
    outcomes = burst(database, 100, launcher(project, template))
    assert outcomes.count("ok") == 10
    assert outcomes.count("maxActiveSandboxes") == 90
    listed = client.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"]
    assert len(listed) == 10


def test_concurrent_starts_admit_exactly_the_running_limit(client, api, database):
    project, template = api.project(), api.template()
    ids = [api.sandbox(project, template)["id"] for _ in range(30)]
    for sandbox_id in ids:
        assert client.post(f"/v1/sandboxes/{sandbox_id}/stop").status_code == 200
    limit(client, project, maxRunningSandboxes=5)

    def start(db, index: int) -> None:
        sandboxes.start_sandbox(db, principal=ADMIN, sandbox_id=uuid.UUID(ids[index]))

    outcomes = burst(database, len(ids), start)
    assert outcomes.count("ok") == 5
    assert outcomes.count("maxRunningSandboxes") == 25
    statuses = [client.get(f"/v1/sandboxes/{i}").json()["status"] for i in ids]
    assert statuses.count("pending") == 5 and statuses.count("stopped") == 25
    # A start of a sandbox already meant to run is not one more.
    running = next(i for i, status in zip(ids, statuses, strict=True) if status == "pending")
    assert client.post(f"/v1/sandboxes/{running}/start").status_code == 200


def test_concurrent_task_creation_admits_exactly_the_tasks_limit(client, api, database):
    project, template = api.project(), api.template()
    ids = [api.sandbox(project, template)["id"] for _ in range(8)]
    with database.session() as db:
        for sandbox_id in ids:
            row = db.get(SandboxRow, uuid.UUID(sandbox_id))
            row.status, row.runtime_ref = "running", REF
        db.commit()
    limit(client, project, maxTasksInProgress=7)

    def create(db, index: int) -> None:
        data = ExecutionTaskCreate.model_validate({"command": ["echo", str(index)]})
        sandbox_id = uuid.UUID(ids[index % len(ids)])
        tasks.create_task(db, principal=ADMIN, sandbox_id=sandbox_id, data=data)

    outcomes = burst(database, 40, create)
    assert outcomes.count("ok") == 7
    assert outcomes.count("maxTasksInProgress") == 33
    usage = client.get(f"/v1/projects/{project['id']}/usage").json()
    assert usage["executionTasks"]["queued"] == 7


def test_cpu_and_memory_are_summed_from_the_running_sandboxes_templates(client, api):
    project = api.project()
    small = api.template(cpuRequest="500m", memoryRequest="1Gi")
    unsized = api.template()
    limit(client, project, maxCpu="1", maxMemory="1536Mi")
    first = api.sandbox(project, small)
    payload = {"projectId": project["id"], "templateId": small["id"], "name": "second"}
    refused = client.post("/v1/sandboxes", json=payload)
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "policy denied: memory request quota exceeded: maxMemory=1536Mi memory=1Gi requested=1Gi"
    )
    assert refused.json()["denial"]["rules"] == [
        {
            "rule": "maxMemory",
            "value": "1Gi",
            "message": refused.json()["error"].removeprefix("policy denied: "),
            "limit": "1536Mi",
            "current": "1Gi",
            "requested": "1Gi",
        }
    ]
    api.sandbox(project, unsized)  # requests nothing: no cpu or memory limit applies
    limit(client, project, maxCpu="1", maxMemory="2Gi")
    api.sandbox(project, small)
    third = client.post("/v1/sandboxes", json={**payload, "name": "third"})
    assert third.json()["denial"]["rules"][0]["message"] == (
        "cpu request quota exceeded: maxCpu=1 cpu=1 requested=500m"
    )
    # A stopped sandbox runs nothing: its requests are free for a start.
    assert client.post(f"/v1/sandboxes/{first['id']}/stop").status_code == 200
    assert client.post("/v1/sandboxes", json={**payload, "name": "fourth"}).status_code == 201
    refused = client.post(f"/v1/sandboxes/{first['id']}/start")
    assert refused.status_code == 403
    assert refused.json()["denial"]["operation"] == "sandbox.start"
    assert [rule["rule"] for rule in refused.json()["denial"]["rules"]] == ["maxCpu", "maxMemory"]


def test_usage_shows_each_quota_against_its_limit(client, api, database):
    project, template = api.project(), api.template(cpuRequest="250m", memoryRequest="512Mi")
    api.sandbox(project, template)
    stopped = api.sandbox(project, template)
    client.post(f"/v1/sandboxes/{stopped['id']}/stop")
    path = f"/v1/projects/{project['id']}/usage"
    unlimited = {quota["name"]: quota for quota in client.get(path).json()["quotas"]}
    assert unlimited["maxActiveSandboxes"] == {"name": "maxActiveSandboxes", "current": 2}
    assert "limit" not in unlimited["maxCpu"]
    limit(
        client, project, maxActiveSandboxes=5, maxRunningSandboxes=3, maxCpu="2",
        maxMemory="4Gi", maxTasksInProgress=4, maxLiveTerminals=2,
        maxRetainedArtifactBytes=1000,
    )  # fmt: skip
    usage = client.get(path).json()
    assert usage["quotas"] == [
        {"name": "maxActiveSandboxes", "limit": 5, "current": 2},
        {"name": "maxRunningSandboxes", "limit": 3, "current": 1},
        {"name": "maxCpu", "limit": "2", "current": "250m", "unit": "cpu"},
        {"name": "maxMemory", "limit": "4Gi", "current": "512Mi", "unit": "bytes"},
        {"name": "maxTasksInProgress", "limit": 4, "current": 0},
        {"name": "maxLiveTerminals", "limit": 2, "current": 0},
        {"name": "maxRetainedArtifactBytes", "limit": 1000, "current": 0, "unit": "bytes"},
    ]
    assert usage["sandboxes"]["maxActive"] == 5  # the fields from before stay


def test_limits_are_written_whole_and_read_back(client, api):
    project = api.project()
    written = limit(client, project, maxRunningSandboxes=2, maxCpu=" 1500m ", maxMemory="8Gi")
    assert (written["maxRunningSandboxes"], written["maxCpu"], written["maxMemory"]) == (
        2, "1500m", "8Gi"
    )  # fmt: skip
    assert "maxTasksInProgress" not in written and "maxLiveTerminals" not in written
    assert client.get(f"/v1/projects/{project['id']}/quota-policy").json() == written
    [event] = api.audit(action="project.quota_policy.updated")
    assert event["metadata"]["maxCpu"] == "1500m" and "maxLiveTerminals" not in event["metadata"]
    assert limit(client, project, maxCpu=4)["maxCpu"] == "4"  # a number is a quantity too
    assert "maxCpu" not in limit(client, project)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"maxRunningSandboxes": -1}, "maxRunningSandboxes cannot be negative"),
        ({"maxTasksInProgress": -3}, "maxTasksInProgress cannot be negative"),
        ({"maxLiveTerminals": -1}, "maxLiveTerminals cannot be negative"),
        ({"maxCpu": "-1"}, "maxCpu cannot be negative"),
        ({"maxMemory": -5}, "maxMemory cannot be negative"),
        ({"maxCpu": "lots"}, "maxCpu must be a Kubernetes quantity such as 4 or 500m"),
        ({"maxMemory": "8GB"}, "maxMemory must be a Kubernetes quantity such as 512Mi or 8Gi"),
        ({"maxMemory": ""}, "maxMemory must be a Kubernetes quantity such as 512Mi or 8Gi"),
    ],
)
def test_bad_limits_change_nothing(client, api, row_counts, payload, message):
    project = api.project()
    before = row_counts()
    response = client.put(
        f"/v1/projects/{project['id']}/quota-policy", json={"enforcement": "enforced", **payload}
    )
    assert response.status_code == 400
    assert response.json() == {"error": message, "detail": {"field": next(iter(payload))}}
    assert row_counts() == before
