"""The reconciler records a sandbox's scheduledAt as soon as the runtime reports one: while
the sandbox is still starting (a cluster has placed its pod) and when it is running."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from backend.engines.reconciler import Reconciler
from backend.runtime.base import RuntimeStatus, SandboxSpec
from tests.api.conftest import Api, build_api

REF = {"adapter": "staged", "kind": "SandboxClaim", "namespace": "team", "name": "box"}


def cluster_times() -> tuple[datetime, datetime]:
    """A cluster's whole-second times, after the launch (times before it read as the
    launch's): taken when the test runs, not when the module is imported."""
    scheduled = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    return scheduled, scheduled + timedelta(seconds=4)


class StagedRuntime:
    """Starts sandboxes in steps, as a cluster does; the test says what is true now."""

    name = "staged"

    def __init__(self) -> None:
        self.now: dict[uuid.UUID, RuntimeStatus] = {}

    async def status(self, sandbox_id: uuid.UUID) -> RuntimeStatus:
        return self.now.get(sandbox_id, RuntimeStatus("missing"))

    async def ensure(self, spec: SandboxSpec) -> RuntimeStatus:
        self.now[spec.sandbox_id] = RuntimeStatus("starting", REF, message="claim created")
        return self.now[spec.sandbox_id]


async def test_scheduled_at_is_recorded_while_starting_and_kept_once_running(settings, database):
    api = Api(TestClient(build_api(settings, database)))
    sandbox = api.sandbox(api.project(), api.template())
    sandbox_id = uuid.UUID(sandbox["id"])
    path = f"/v1/sandboxes/{sandbox['id']}"
    runtime = StagedRuntime()
    reconciler = Reconciler(database, runtime)
    scheduled, ready = cluster_times()

    await reconciler.reconcile_once()
    claimed = api.client.get(path).json()
    assert claimed["status"] == "pending" and "scheduledAt" not in claimed

    runtime.now[sandbox_id] = RuntimeStatus(
        "starting", REF, message="pulling", scheduled_at=scheduled
    )
    await reconciler.reconcile_once()
    placed = api.client.get(path).json()
    assert placed["status"] == "pending"
    assert datetime.fromisoformat(placed["scheduledAt"]) == scheduled

    runtime.now[sandbox_id] = RuntimeStatus("running", REF, scheduled_at=scheduled, ready_at=ready)
    await reconciler.reconcile_once()
    running = api.client.get(path).json()
    assert running["status"] == "running"
    assert datetime.fromisoformat(running["scheduledAt"]) == scheduled
    assert datetime.fromisoformat(running["readyAt"]) == ready


async def test_a_clusters_whole_second_times_never_precede_the_launch(settings, database):
    """Kubernetes reports times in whole seconds: a pod placed and ready within the second
    of the launch must not read as placed or ready before it was asked for."""
    api = Api(TestClient(build_api(settings, database)))
    sandbox = api.sandbox(api.project(), api.template())
    requested = datetime.fromisoformat(sandbox["requestedAt"])
    truncated = requested.replace(microsecond=0)
    runtime = StagedRuntime()
    runtime.now[uuid.UUID(sandbox["id"])] = RuntimeStatus(
        "running", REF, scheduled_at=truncated, ready_at=truncated
    )
    await Reconciler(database, runtime).reconcile_once()
    running = api.client.get(f"/v1/sandboxes/{sandbox['id']}").json()
    phases = [datetime.fromisoformat(running[k]) for k in ("requestedAt", "scheduledAt", "readyAt")]
    assert phases == sorted(phases) and phases[0] == requested
