"""Sandboxes really run: the API records intent, the reconciler makes the runtime (local,
and Kubernetes on the test cluster) match it, and the API reports what happened (status,
reason, phases, runtime routes)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest

from backend.engines.reconciler import Reconciler

pytestmark = pytest.mark.both_runtimes


async def nothing_runs(world, sandbox_id: uuid.UUID, timeout: float = 10.0) -> None:
    """The runtime reports the sandbox gone (a cluster's watch may take a moment to see it)."""
    async with asyncio.timeout(timeout):
        while (await world.runtime.status(sandbox_id)).phase != "missing":
            await asyncio.sleep(0.02)


async def test_launch_runs_and_reports_phases(world):
    sandbox = await world.launch(startupCommand=["sh", "-c", "echo booted; exec sleep infinity"])
    assert sandbox["status"] == "pending" and "requestedAt" in sandbox
    running = await world.settle(sandbox["id"], "running")
    phases = [datetime.fromisoformat(running[k]) for k in ("requestedAt", "startedAt", "readyAt")]
    assert phases == sorted(phases)
    assert running["runtimeRef"]["adapter"] == world.runtime.name
    assert (await world.runtime.status(uuid.UUID(running["id"]))).phase == "running"

    target = await world.get(f"/v1/sandboxes/{sandbox['id']}/runtime")
    assert target["phase"] == "Running" and target["commands"][0] == "/bin/bash"
    await asyncio.sleep(0.1)
    logs = await world.get(f"/v1/sandboxes/{sandbox['id']}/logs", tailLines=5)
    assert logs["logs"] == "booted\n"
    events = (await world.get(f"/v1/sandboxes/{sandbox['id']}/events"))["items"]
    assert [e["reason"] for e in events][-1] == "Started"


async def test_stop_keeps_the_workspace_and_start_runs_again(world):
    # Its own volume: what a stop keeps on a cluster (container-local files are lost).
    sandbox = await world.launch(storageRequest="64Mi")
    await world.settle(sandbox["id"], "running")
    sandbox_id = uuid.UUID(sandbox["id"])
    process = await world.runtime.exec(sandbox_id, ["sh", "-c", "echo kept > notes.txt"])
    assert await process.wait() == 0

    await world.post(f"/v1/sandboxes/{sandbox['id']}/stop")
    stopped = await world.settle(sandbox["id"], "stopped")
    assert stopped["statusReason"] == "user"
    await world.reconciler.reconcile_once()
    await nothing_runs(world, sandbox_id)

    await world.post(f"/v1/sandboxes/{sandbox['id']}/start")
    await world.settle(sandbox["id"], "running")
    process = await world.runtime.exec(sandbox_id, ["cat", "notes.txt"])
    assert b"".join([c async for c in process.stdout()]) == b"kept\n"

    response = await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")
    assert response.status_code == 204
    await world.reconciler.reconcile_once()
    await nothing_runs(world, sandbox_id)
    left = await world.get("/v1/runtime/resources")
    assert [i for i in left["items"] if i.get("owner", {}).get("sandboxId") == sandbox["id"]] == []
    # The runtime is gone, so the project can be deleted now.
    response = await world.client.delete(f"/v1/projects/{sandbox['projectId']}")
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("command", "status", "reason", "message"),
    [
        (
            ["sh", "-c", "echo bye; exit 3"],
            "failed",
            "crashed",
            "main process exited with code 3: bye",
        ),
        (["true"], "stopped", "exited", "main process exited with code 0"),
    ],
)
async def test_main_process_exit_is_recorded(world, command, status, reason, message):
    sandbox = await world.launch(startupCommand=command)
    ended = await world.settle(sandbox["id"], status)
    assert (ended["statusReason"], ended["statusMessage"]) == (reason, message)
    await world.reconciler.reconcile_once()  # later passes keep the outcome visible
    assert (await world.get(f"/v1/sandboxes/{sandbox['id']}"))["status"] == status
    events = await world.get("/v1/audit-events", action="sandbox.status.changed")
    assert any(e["metadata"]["status"] == status for e in events["items"])


@pytest.mark.local_runtime_only
async def test_a_main_process_that_cannot_start_is_recorded(world):
    sandbox = await world.launch(startupCommand=["/no/such/program"])
    ended = await world.settle(sandbox["id"], "failed")
    assert (ended["statusReason"], ended["statusMessage"]) == (
        "crashed",
        "main process exited with code 1: bwrap: execvp /no/such/program: No such file or "
        "directory",
    )


async def test_runtime_routes_need_a_runtime(world):
    sandbox = await world.launch()
    response = await world.client.get(f"/v1/sandboxes/{sandbox['id']}/logs")
    assert response.status_code == 409
    assert response.json() == {"error": "sandbox runtime is not ready"}
    await world.settle(sandbox["id"], "running")
    bad = await world.client.get(f"/v1/sandboxes/{sandbox['id']}/logs", params={"tailLines": "0"})
    assert bad.json() == {"error": "tailLines must be between 1 and 5000"}


async def test_ports_report_previewability(world):
    sandbox = await world.launch(
        exposedPorts=[{"name": "web", "port": 3000}, {"name": "dns", "port": 53, "protocol": "UDP"}]
    )
    await world.settle(sandbox["id"], "running")
    ports = await world.get(f"/v1/sandboxes/{sandbox['id']}/ports")
    web, dns = ports["items"]
    assert web == {
        "name": "web",
        "port": 3000,
        "protocol": "TCP",
        "previewUrl": f"/v1/sandboxes/{sandbox['id']}/ports/3000/proxy/",
        "previewOrigin": f"http://3000-{uuid.UUID(sandbox['id']).hex}.preview.localhost:3000",
        "available": True,
    }
    assert dns["available"] is False
    assert dns["message"] == "only TCP ports can be opened in browser preview"


@pytest.mark.local_runtime_only  # a cluster's sandboxes outlive the server (tests/kube)
async def test_a_restarted_server_starts_its_sandboxes_again(world, settings, database):
    from backend.runtime import create_runtime

    sandbox = await world.launch()
    await world.settle(sandbox["id"], "running")
    await world.runtime.close()  # the server process died: its sandboxes died with it

    fresh = create_runtime(settings)
    try:
        reconciler = Reconciler(database, fresh)
        await reconciler.reconcile_once()
        again = await world.get(f"/v1/sandboxes/{sandbox['id']}")
        assert again["status"] == "running" and again["statusReason"] == "restarted"
        assert (await fresh.status(uuid.UUID(sandbox["id"]))).phase == "running"
    finally:
        await fresh.close()


async def test_a_late_report_does_not_undo_a_newer_request(world, database):
    """The user stops the sandbox while the reconciler is starting it: the start's report
    is dropped, and the next pass stops it (the reference's race, fixed)."""
    from backend.sandboxes import service

    sandbox = await world.launch()
    await world.post(f"/v1/sandboxes/{sandbox['id']}/stop")
    with database.session() as db:
        applied = service.report_runtime(
            db, sandbox_id=uuid.UUID(sandbox["id"]), acted_on="running", status="running"
        )
    assert applied is False
    assert (await world.get(f"/v1/sandboxes/{sandbox['id']}"))["status"] == "stopped"


async def test_ttl_deletes_the_sandbox_at_its_deadline(world):
    sandbox = await world.launch(lifecyclePolicy={"ttlSeconds": 1})
    deadline = datetime.fromisoformat(sandbox["expiresAt"])
    created = datetime.fromisoformat(sandbox["createdAt"])
    assert 0.99 <= (deadline - created).total_seconds() <= 1.01
    while (await world.client.get(f"/v1/sandboxes/{sandbox['id']}")).status_code == 200:
        await world.reconciler.reconcile_once()
        await asyncio.sleep(0.05)
    late = datetime.now(deadline.tzinfo) - deadline
    assert late.total_seconds() < 5
    [event] = (await world.get("/v1/audit-events", action="sandbox.expired"))["items"]
    assert event["principal"] == "system" and event["metadata"]["reason"] == "ttl"
    await nothing_runs(world, uuid.UUID(sandbox["id"]))


async def test_idle_sandbox_is_stopped_with_reason_idle(world):
    sandbox = await world.launch(lifecyclePolicy={"idleTimeoutSeconds": 1})
    await world.settle(sandbox["id"], "running")
    stopped = await world.settle(sandbox["id"], "stopped", timeout=6)
    assert (stopped["statusReason"], stopped["statusMessage"]) == ("idle", "no activity for 1 s")
    idle_for = datetime.fromisoformat(stopped["stoppedAt"]) - datetime.fromisoformat(
        stopped["lastActivityAt"]
    )
    assert 1 <= idle_for.total_seconds() < 6
    await nothing_runs(world, uuid.UUID(sandbox["id"]))


async def test_renew_extends_the_lease(world):
    sandbox = await world.launch(lifecyclePolicy={"ttlSeconds": 60})
    renewed = await world.post(f"/v1/sandboxes/{sandbox['id']}/renew")
    assert renewed["expiresAt"] > sandbox["expiresAt"]
    longer = await world.post(f"/v1/sandboxes/{sandbox['id']}/renew", {"ttlSeconds": 3600})
    remaining = datetime.fromisoformat(longer["expiresAt"]) - datetime.now(
        datetime.fromisoformat(longer["expiresAt"]).tzinfo
    )
    assert 3590 < remaining.total_seconds() <= 3600
    bad = await world.client.post(f"/v1/sandboxes/{sandbox['id']}/renew", json={"ttlSeconds": 0})
    assert bad.status_code == 400
    assert [
        e["action"]
        for e in (await world.get("/v1/audit-events", action="sandbox.renewed"))["items"]
    ] == ["sandbox.renewed"] * 2


async def test_renew_needs_a_lease(world):
    sandbox = await world.launch()
    response = await world.client.post(f"/v1/sandboxes/{sandbox['id']}/renew")
    assert response.status_code == 400
    assert response.json() == {"error": "this sandbox has no lease: give ttlSeconds to set one"}


class _Leader:
    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        pass


async def test_a_change_wakes_a_pass_over_that_sandbox_only(world, monkeypatch):
    """A launch (or stop, start, delete) costs one sandbox's pass, not a pass over the
    fleet: launch latency stays flat as sandboxes accumulate. Every sandbox is still
    reconciled every `interval` seconds."""
    first, second = await world.running_sandbox(), await world.running_sandbox()
    seen: list[uuid.UUID] = []
    status = world.runtime.status

    async def recorded(sandbox_id: uuid.UUID):
        seen.append(sandbox_id)
        return await status(sandbox_id)

    monkeypatch.setattr(world.runtime, "status", recorded)
    engine = asyncio.create_task(world.reconciler.run(60.0, _Leader()))
    try:
        async with asyncio.timeout(10):
            while not {uuid.UUID(first["id"]), uuid.UUID(second["id"])} <= set(seen):
                await asyncio.sleep(0.01)  # the first pass: every sandbox
            seen.clear()
            await world.post(f"/v1/sandboxes/{first['id']}/stop")
            while (await world.get(f"/v1/sandboxes/{first['id']}"))["status"] != "stopped" or (
                await status(uuid.UUID(first["id"]))  # not recorded: the engine's calls are
            ).phase != "missing":
                await asyncio.sleep(0.01)
        assert set(seen) == {uuid.UUID(first["id"])}
    finally:
        engine.cancel()
        with pytest.raises(asyncio.CancelledError):
            await engine
