"""Benchmark live resource use: one sampling round over N running sandboxes, and the API's
metrics read of a full hour, each against a baseline in the same run.

    .venv/bin/python tests/bench/bench_metrics.py [--sandboxes 50] [--rounds 20] [--reads 50]
    .venv/bin/python tests/bench/bench_metrics.py --smoke   # tiny: the test suite's run

A real server (SQLite, local runtime, engines; tests/bench/harness.py) runs N sandboxes.
Timed: the runtime's `sample` of all of them (cgroup files, disk, network counters, read
in one worker thread), a whole round of the metrics sampler (read the running sandboxes,
sample, store the batch and prune in one transaction), and as the baseline one reconcile
pass over the same sandboxes (what the server already does every second). Then one
sandbox gets an hour of samples (360 at the default 10 s) and GET /v1/sandboxes/{id}/
metrics?window=3600 is timed against GET /v1/sandboxes/{id} (the baseline read).

Targets (2-core machine, not judged in a smoke run), at the default intervals (a round
every 10 s, a reconcile pass every second): the sampler's load (a round per interval) is
at most the reconciler's (a pass per second), and a round takes at most 2 % of its
interval; the hour's read p50 <= 5x the plain sandbox read. A miss prints MISS; the exit
code is 0 either way unless a correctness check fails (every sandbox sampled, every
sample stored, 360 samples read back).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from backend.db import utcnow
from backend.engines.metrics_sampler import MetricsSampler
from backend.engines.reconciler import Reconciler
from backend.metrics import service as metrics
from backend.runtime.base import ResourceSample
from backend.settings import Settings
from tests.bench.harness import bench_server, check, p50, parse_args, percentiles

HOUR = 3600
MAX_ROUND_SHARE = 0.02  # of the sampling interval
INTERVAL = Settings.model_fields["metrics_interval_seconds"].default  # seconds
RECONCILE_INTERVAL = Settings.model_fields["reconcile_interval"].default
MAX_READ_RATIO = 5.0


async def timed(work, runs: int) -> list[float]:
    """Milliseconds per call of `work()`."""
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        found.append((time.perf_counter() - started) * 1000)
    return found


def target(ok: bool, text: str, smoke: bool) -> None:
    if not smoke:
        print(f"{'ok  ' if ok else 'MISS'}      {text}", flush=True)


async def rounds(server, sandboxes: list[dict], args: argparse.Namespace) -> None:
    services = server.app.state.services
    database, runtime, settings = services.database, server.runtime, services.settings
    settings = settings.model_copy(update={"metrics_interval_seconds": INTERVAL})
    ids = [uuid.UUID(sandbox["id"]) for sandbox in sandboxes]
    found = await runtime.sample(ids)
    check(set(found) == set(ids), f"sampled {len(found)} of {len(ids)} sandboxes")
    check(all(s.memory_bytes for s in found.values()), "a sample without memory")
    sampler = MetricsSampler(database, runtime, settings)
    reconciler = Reconciler(database, runtime, settings)
    sample_ms = await timed(lambda: runtime.sample(ids), args.rounds)
    stored: list[int] = []

    async def one_round() -> None:
        stored.append(await sampler.sample_once())

    round_ms = await timed(one_round, args.rounds)
    check(all(count == len(ids) for count in stored), f"rounds stored {stored}")
    reconcile_ms = await timed(reconciler.reconcile_once, args.rounds)
    n = len(ids)
    print(f"runtime.sample, {n} sandboxes       {percentiles(sample_ms)}")
    print(f"sampling round, {n} sandboxes       {percentiles(round_ms)}")
    print(f"reconcile pass, {n} sandboxes       {percentiles(reconcile_ms)}   (baseline)")
    print(f"per sandbox: {p50(sample_ms) * 1000 / n:.0f} us sampled, "
          f"{p50(round_ms) * 1000 / n:.0f} us a whole round")  # fmt: skip
    load = (p50(round_ms) / INTERVAL) / (p50(reconcile_ms) / RECONCILE_INTERVAL)
    print(f"the sampler's load / the reconciler's: {load:.2f}x")
    share = p50(round_ms) / (INTERVAL * 1000)
    target(load <= 1, f"the sampler's load is {load:.2f}x the reconciler's", args.smoke)
    target(share <= MAX_ROUND_SHARE, f"a round takes {share:.2%} of its interval", args.smoke)


async def hour_read(server, sandbox: dict, args: argparse.Namespace) -> None:
    database = server.app.state.services.database
    sandbox_id, project_id = uuid.UUID(sandbox["id"]), uuid.UUID(sandbox["projectId"])
    now = utcnow()
    with database.session() as db:  # an hour at the default interval, one round a sample
        for n in range(HOUR // 10):
            at = now - timedelta(seconds=HOUR - 5 - n * 10)
            sample = ResourceSample(
                at=at,
                source="cgroups",
                cpu_usage_usec=n * 1_000_000,
                memory_bytes=100 * 2**20 + n,
                disk_bytes=n * 4096,
                processes=3,
                network_rx_bytes=n * 1000,
                network_tx_bytes=n * 500,
            )
            metrics.store_round(
                db,
                samples={sandbox_id: sample},
                projects={sandbox_id: project_id},
                retention_seconds=2 * HOUR,
            )
    client = server.client
    url = f"/v1/sandboxes/{sandbox['id']}"
    body = (await client.get(f"{url}/metrics", params={"window": HOUR})).json()
    check(len(body["samples"]) >= HOUR // 10, f"read {len(body['samples'])} samples of the hour")

    async def read_hour() -> None:
        response = await client.get(f"{url}/metrics", params={"window": HOUR})
        assert response.status_code == 200, response.text

    async def read_sandbox() -> None:
        response = await client.get(url)
        assert response.status_code == 200, response.text

    hour_ms = await timed(read_hour, args.reads)
    plain_ms = await timed(read_sandbox, args.reads)
    print(f"GET .../metrics?window=3600 ({len(body['samples'])} samples)  {percentiles(hour_ms)}")
    print(f"GET /v1/sandboxes/{{id}}                  {percentiles(plain_ms)}   (baseline)")
    ratio = p50(hour_ms) / p50(plain_ms)
    print(f"hour read / sandbox read: {ratio:.1f}x")
    target(ratio <= MAX_READ_RATIO, f"the hour's read is {ratio:.1f}x the sandbox read", args.smoke)


async def main(args: argparse.Namespace) -> None:
    # The server's own sampler waits an hour between rounds: the bench times its rounds.
    async with bench_server(
        metrics_interval_seconds=HOUR, metrics_retention_seconds=2 * HOUR
    ) as server:
        sandboxes = await server.running_sandboxes(args.sandboxes)
        await rounds(server, sandboxes, args)
        await hour_read(server, sandboxes[0], args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--reads", type=int, default=50)
    asyncio.run(main(parse_args(parser, {"sandboxes": 3, "rounds": 3, "reads": 5})))
