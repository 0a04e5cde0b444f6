"""The runtime inventory, the orphan audit and gated cleanup (/v1/runtime/...), on both
runtimes: what a sandbox leaves in the runtime is listed, owned, observed; what outlives
its record is an orphan with a reason, and only a confirmed cleanup of a current orphan
deletes it."""

from __future__ import annotations

import uuid

import pytest

from tests.runtime.conftest import World, run

pytestmark = pytest.mark.both_runtimes

CONFIRM = "delete-orphan-runtime-resource"
# The resource that is the sandbox (deleting it deletes the rest of it).
PRIMARY = {"agent-sandbox": "SandboxClaim", "local": "Workspace"}


async def launch(world: World) -> tuple[dict, dict]:
    """A running sandbox in a namespace of its own (the test cluster is shared); returns
    (sandbox, template)."""
    unique = uuid.uuid4().hex[:8]
    project = await world.post(
        "/v1/projects", {"name": f"inv {unique}", "defaultNamespace": f"inv-{unique}"}
    )
    template = await world.post("/v1/templates", {"name": f"inv {unique}", "image": "host"})
    sandbox = await world.post(
        "/v1/sandboxes",
        {"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    return await world.settle(sandbox["id"], "running"), template


def place(world: World, sandbox: dict) -> str:
    """Where the sandbox's resources are listed (the local runtime has one place)."""
    return sandbox["namespace"] if world.runtime.name == "agent-sandbox" else "local"


def owned_by(items: list[dict], sandbox: dict, template: dict) -> list[dict]:
    return [
        item
        for item in items
        if (item.get("owner") or {}).get("sandboxId") == sandbox["id"]
        or (item.get("owner") or {}).get("templateId") == template["id"]
    ]


async def test_a_running_sandbox_is_listed_owned_and_observed(world: World):
    sandbox, template = await launch(world)
    found = await world.get("/v1/runtime/resources", namespace=place(world, sandbox))
    assert found["adapter"] == world.runtime.name
    mine = owned_by(found["items"], sandbox, template)
    [runs] = [item for item in mine if (item.get("observation") or {}).get("runningPodCount")]
    assert runs["owner"] == {
        "kind": "sandbox",
        "projectId": sandbox["projectId"],
        "sandboxId": sandbox["id"],
    }
    assert runs["labels"]["app.kubernetes.io/managed-by"] == "mbox"
    observation = runs["observation"]
    assert observation["podPhase"] == "Running"
    assert observation["runningPodCount"] == 1
    summary = found["summary"]
    assert summary["total"] == len(found["items"])
    owner_key = f"project/{sandbox['projectId']}/sandbox/{sandbox['id']}"
    assert owner_key in {entry["name"] for entry in summary["byOwner"]}
    assert summary["workload"]["runningPods"] >= 1
    kinds = {item["kind"] for item in found["items"]}
    filtered = await world.get(
        "/v1/runtime/resources", namespace=place(world, sandbox), kind=runs["kind"]
    )
    assert {item["kind"] for item in filtered["items"]} == {runs["kind"]} <= kinds
    # A sandbox with its record is no orphan.
    audit = await world.get("/v1/runtime/orphans", namespace=place(world, sandbox))
    assert owned_by([o["resource"] for o in audit["items"]], sandbox, template) == []


async def test_a_deleted_sandboxs_leftover_is_an_orphan_until_cleaned_up(world: World):
    sandbox, _ = await launch(world)
    where = place(world, sandbox)
    assert (await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")).status_code == 204
    # The reconciler has not run yet: the runtime still holds the sandbox.
    audit = await world.get("/v1/runtime/orphans", namespace=where)
    pending = [o for o in audit["items"] if o.get("sandboxId") == sandbox["id"]]
    assert pending and {o["reason"] for o in pending} == {"cleanup-pending"}
    assert audit["orphanCount"] == len(audit["items"]) and not audit["expectedClean"]
    assert "deleted" in pending[0]["message"] and pending[0]["deletedAt"]
    [target] = [
        o["resource"] for o in pending if o["resource"]["kind"] == PRIMARY[world.runtime.name]
    ]
    ref = {key: target.get(key, "") for key in ("adapter", "kind", "namespace", "name")}
    cleanup = {"resource": ref, "reason": "cleanup-pending", "deleteOrphan": True}

    refused = await world.client.post("/v1/runtime/orphans/cleanup", json=cleanup)
    assert refused.status_code == 400
    assert refused.json()["error"] == (
        'cleanup requires deleteOrphan=true and confirm="delete-orphan-runtime-resource"'
    )
    wrong_reason = {**cleanup, "confirm": CONFIRM, "reason": "missing-sandbox-record"}
    changed = await world.client.post("/v1/runtime/orphans/cleanup", json=wrong_reason)
    assert changed.status_code == 409
    assert changed.json()["error"] == "runtime orphan reason changed from requested reason"
    still = await world.get("/v1/runtime/orphans", namespace=where)
    assert target["name"] in {o["resource"]["name"] for o in still["items"]}  # nothing deleted

    done = await world.post("/v1/runtime/orphans/cleanup", {**cleanup, "confirm": CONFIRM})
    assert done == {
        "deleted": True,
        "resource": ref,
        "reason": "cleanup-pending",
        "message": "orphan runtime resource deleted",
    }
    events = await world.get("/v1/audit-events", action="runtime.orphan.deleted")
    [event] = [e for e in events["items"] if e["resourceName"] == ref["name"]]
    assert event["resourceType"] == ref["kind"].lower()
    assert event["metadata"]["reason"] == "cleanup-pending"
    again = await world.client.post(
        "/v1/runtime/orphans/cleanup", json={**cleanup, "confirm": CONFIRM}
    )
    assert again.status_code == 409  # gone (or going): no longer reported
    assert again.json()["error"] == "runtime resource is not currently reported as an orphan"


async def test_deleting_a_sandbox_leaves_nothing_of_it_or_its_unused_template(world: World):
    sandbox, template = await launch(world)
    assert (await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")).status_code == 204
    await world.reconciler.reconcile_once()
    found = await world.get("/v1/runtime/resources", namespace=place(world, sandbox))
    assert owned_by(found["items"], sandbox, template) == []


async def test_cleanup_refuses_what_is_not_an_orphan_and_bad_bodies(world: World):
    sandbox, template = await launch(world)
    found = await world.get("/v1/runtime/resources", namespace=place(world, sandbox))
    [item, *_] = owned_by(found["items"], sandbox, template)
    ref = {key: item.get(key, "") for key in ("adapter", "kind", "namespace", "name")}
    body = {"resource": ref, "reason": "cleanup-pending", "deleteOrphan": True, "confirm": CONFIRM}
    refused = await world.client.post("/v1/runtime/orphans/cleanup", json=body)
    assert refused.status_code == 409
    for bad, message in [
        (
            {**body, "resource": {**ref, "name": " "}},
            "resource adapter, kind, namespace, and name are required",
        ),
        ({**body, "resource": None}, "resource adapter, kind, namespace, and name are required"),
        ({**body, "reason": ""}, "reason is required"),
        ({}, 'cleanup requires deleteOrphan=true and confirm="delete-orphan-runtime-resource"'),
        (
            {**body, "confirm": "yes"},
            'cleanup requires deleteOrphan=true and confirm="delete-orphan-runtime-resource"',
        ),
    ]:
        response = await world.client.post("/v1/runtime/orphans/cleanup", json=bad)
        assert (response.status_code, response.json()["error"]) == (400, message)
    # ...and the sandbox runs on.
    await world.reconciler.reconcile_once()
    current = await world.get(f"/v1/sandboxes/{sandbox['id']}")
    assert current["status"] == "running"


@pytest.mark.local_runtime_only
async def test_code_in_a_sandbox_cannot_forge_what_the_inventory_says_it_is(world: World):
    """The audit trusts the labels written beside a local sandbox's workspace: the sandbox
    sees its workspace only, so it can neither read nor rewrite them."""
    sandbox, _ = await launch(world)
    # Its "..", and its "/", are its own root: whatever it writes there stays inside.
    forge = 'echo "{}" > ../labels.json; echo "{}" > /labels.json; true'
    await run(world.runtime, uuid.UUID(sandbox["id"]), forge)
    labels = world.runtime.root / sandbox["id"] / "labels.json"  # beside the workspace
    assert sandbox["projectId"] in labels.read_text()
    found = await world.get("/v1/runtime/resources", namespace="local")
    owners = [
        item["owner"]
        for item in found["items"]
        if item["name"] == sandbox["id"] and item["kind"] in ("Workspace", "ProcessTree")
    ]
    expected = {"kind": "sandbox", "projectId": sandbox["projectId"], "sandboxId": sandbox["id"]}
    assert owners == [expected, expected]
