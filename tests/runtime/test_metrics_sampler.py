"""The metrics sampler over real sandboxes (local runtime, bubblewrap), through the API:
rounds store samples the metrics route reads back, old samples are pruned, and a hostile
sandbox cannot make a round fail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from backend.db import utcnow
from backend.engines.health import engine_health
from backend.engines.leadership import Leadership
from backend.engines.metrics_sampler import MetricsSampler
from backend.metrics.models import SandboxMetricSampleRow
from tests.runtime.conftest import World, run

MIB = 1024**2
pytestmark = pytest.mark.both_runtimes


def _sampler(world: World, **settings: object) -> MetricsSampler:
    services = world.app.state.services
    configured = services.settings.model_copy(update=settings)
    return MetricsSampler(services.database, world.runtime, configured)


async def test_every_runtime_feeds_the_metrics_route(world: World):
    """Local: cgroups; Kubernetes: the pod's PodMetrics (once metrics-server, here the test
    kubelet, has a reading)."""
    sandbox = await world.running_sandbox()
    sampler = _sampler(world)
    for _ in range(50):
        await sampler.sample_once()
        body = await world.get(f"/v1/sandboxes/{sandbox['id']}/metrics", window="60")
        if (body.get("latest") or {}).get("memoryBytes"):
            break
        await asyncio.sleep(0.1)
    assert body["source"] in ("cgroups", "metrics-api")
    assert body["latest"]["memoryBytes"] > 0
    live = (await world.get(f"/v1/projects/{sandbox['projectId']}/usage"))["live"]
    assert live["sampledSandboxes"] == 1 and live["memoryBytes"] > 0


@pytest.mark.local_runtime_only
async def test_rounds_show_up_in_the_metrics_route(world: World):
    sandbox = await world.running_sandbox()
    sampler = _sampler(world)
    assert await sampler.sample_once() == 1
    await run(world.runtime, uuid.UUID(sandbox["id"]), "head -c 8388608 /dev/zero > blob")
    await asyncio.sleep(0.2)
    assert await sampler.sample_once() == 1
    body = await world.get(f"/v1/sandboxes/{sandbox['id']}/metrics", window="60")
    assert body["source"] == "cgroups" and body["intervalSeconds"] == 10.0
    first, second = body["samples"]
    assert second["diskBytes"] - first["diskBytes"] >= 8 * MIB
    assert second["cpuMillicores"] >= 0 and second["memoryBytes"] > 0
    assert second["processes"] >= 1 and second["processLimit"] > 0
    assert second["networkRxBytesPerSecond"] == 0  # a restricted sandbox: loopback only
    usage = await world.get(f"/v1/projects/{sandbox['projectId']}/usage")
    assert usage["live"]["sampledSandboxes"] == 1
    assert usage["live"]["diskBytes"] == second["diskBytes"]


@pytest.mark.local_runtime_only
async def test_a_round_prunes_what_the_retention_no_longer_keeps(world: World):
    sandbox = await world.running_sandbox()
    sampler = _sampler(world, metrics_retention_seconds=60)
    await sampler.sample_once()
    database = world.app.state.services.database
    with database.session() as db:  # age the first sample past the retention
        row = db.exec(select(SandboxMetricSampleRow)).one()
        row.at = utcnow() - timedelta(seconds=61)
        db.add(row)
        db.commit()
    await sampler.sample_once()
    with database.session() as db:
        kept = db.exec(select(SandboxMetricSampleRow)).all()
    assert len(kept) == 1 and kept[0].at > utcnow() - timedelta(seconds=60)
    assert str(kept[0].sandbox_id) == sandbox["id"]


@pytest.mark.local_runtime_only
async def test_stopped_sandboxes_are_not_sampled(world: World):
    sandbox = await world.running_sandbox()
    await world.post(f"/v1/sandboxes/{sandbox['id']}/stop")
    await world.settle(sandbox["id"], "stopped")
    assert await _sampler(world).sample_once() == 0


@pytest.mark.local_runtime_only
async def test_a_hostile_sandbox_does_not_fail_the_round(world: World):
    """Thousands of processes (up to its limit), a process renaming itself, and its own
    workspace and /tmp deleted: every running sandbox is still sampled."""
    hostile = await world.running_sandbox()
    calm = await world.running_sandbox()
    script = (
        "for i in $(seq 2000); do sleep 60 >/dev/null 2>&1 & done 2>/dev/null; "
        'python3 -c \'import ctypes, time; ctypes.CDLL(None).prctl(15, b"kworker/0:0", 0, 0, 0); '
        "time.sleep(60)' >/dev/null 2>&1 & "
        "rm -rf /workspace/* /workspace/.* /tmp/* 2>/dev/null; true"
    )
    await run(world.runtime, uuid.UUID(hostile["id"]), script)
    sampler = _sampler(world)
    sampler.health.reset()
    started = asyncio.get_running_loop().time()
    assert await sampler.sample_once() == 2
    assert asyncio.get_running_loop().time() - started < 2.0
    body = await world.get(f"/v1/sandboxes/{hostile['id']}/metrics", window="60")
    assert body["latest"]["processes"] >= 200  # up to its process limit
    calm_body = await world.get(f"/v1/sandboxes/{calm['id']}/metrics", window="60")
    assert calm_body["latest"]["processes"] < 10
    assert sampler.health.last_error is None


@pytest.mark.local_runtime_only
async def test_the_engine_samples_on_its_interval_while_it_leads(world: World):
    sandbox = await world.running_sandbox()
    sampler = _sampler(world, metrics_interval_seconds=1)
    database = world.app.state.services.database
    job = asyncio.create_task(sampler.run(Leadership(database)))
    try:
        for _ in range(100):
            body = await world.get(f"/v1/sandboxes/{sandbox['id']}/metrics", window="60")
            if len(body["samples"]) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    assert len(body["samples"]) >= 2
    assert engine_health("metricsSampler").last_error is None
