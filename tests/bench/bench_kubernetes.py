"""Benchmark the Kubernetes runtime against the test API server, with the local runtime as
the baseline in the same run.

    .venv/bin/python tests/bench/bench_kubernetes.py [--sandboxes 1000] [--launches 10]
        [--warm-pool 2]
    .venv/bin/python tests/bench/bench_kubernetes.py --smoke   # tiny: the test suite's run

1. Convergence: N sandboxes created through the API at once (8 requests in flight), on a
   test cluster whose kubelet starts no processes (pods are Running and Ready as soon as
   they are scheduled): the time from the first create until the API says all N run, and
   the requests the test API server received per sandbox (mbox's creates and its
   informers' lists and watches; the controller simulator and kubelet use the store
   directly). Watches, not polling: at most MAX_REQUESTS_PER_SANDBOX, in smoke runs too.
2. Launch to running (POST /v1/sandboxes until GET says running), one at a time, through
   the agent-sandbox simulator and the test kubelet (real bubblewrap sandboxes): with a
   cold pool (every claim makes its Sandbox and pod) and a warm one (`kube_warm_pool`;
   each claim adopts a Ready member, the pool refilled before the next launch); the same
   launches on the local runtime as the baseline. Each has its own server (and cluster),
   whose first launch (it makes the namespace, template and pool) is not measured; the
   three launch in turns, so that all see the same load. Every warm launch must adopt a
   pool member; in full runs the warm pool's p50 must beat the cold pool's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from backend.runtime.base import RuntimeStatus
from tests.bench.harness import (
    SANDBOX_FAILED,
    BenchServer,
    bench_server,
    check,
    p50,
    parse_args,
    percentiles,
)
from tests.conftest import sandbox_dir
from tests.support.kube.apiserver import ApiServer
from tests.support.kube.cluster import KubeCluster
from tests.support.kube.controller import CLAIM_UID, LAUNCH_TYPE, AgentSandboxController
from tests.support.kube.kubelet import LocalKubelet

MAX_REQUESTS_PER_SANDBOX = 10
# Sandboxes per project, and so per namespace: the controller simulator lists a namespace's
# Sandboxes at every change of one (its cost grows with their square).
PER_PROJECT = 50
IN_FLIGHT = 8  # concurrent creates
NAMESPACE = "bench"
CONVERGE_TIMEOUT, CONVERGE_TIMEOUT_PER_SANDBOX = 60.0, 0.5  # seconds, on a busy machine
POOL_TIMEOUT = 60.0  # seconds for a warm pool to refill, on a busy machine


# -- the cluster ----------------------------------------------------------------------------


class NoProcesses:
    """The local runtime's part of the test kubelet, without processes: every container
    starts at once and runs until its pod goes."""

    async def ensure(self, spec: Any) -> RuntimeStatus:
        return RuntimeStatus("running")

    async def stop(self, sandbox_id: Any) -> None:
        pass

    async def delete(self, sandbox_id: Any) -> None:
        pass

    async def close(self) -> None:
        pass


class FakeKubelet(LocalKubelet):
    """The test kubelet (scheduling, status, events) over NoProcesses: 1,000 pods cost
    the store's writes, not 1,000 bubblewrap sandboxes."""

    async def start(self, store: Any) -> None:
        self._store = store
        self.runtime = NoProcesses()  # type: ignore[assignment]
        self._events = store.subscribe()
        self._watcher = asyncio.create_task(self._watch())

    async def _monitor(self, pod: dict, run: Any, restarts: int) -> None:
        """Nothing ends by itself, so nothing to watch for."""


@contextlib.contextmanager
def counted_requests() -> Iterator[Counter]:
    """Count the HTTP requests every test API server started meanwhile answers, by verb
    (a watch counts once, when it opens). Patched on the class: the server's routes bind
    its methods when the cluster starts."""
    counts: Counter = Counter()
    handle = ApiServer.handle

    async def counting(server: ApiServer, request: Any) -> Any:
        watch = request.query_params.get("watch") in ("true", "1")
        counts["watch" if watch else request.method.lower()] += 1
        return await handle(server, request)

    ApiServer.handle = counting  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        ApiServer.handle = handle  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def kube_server(kubelet: Callable[[Path], Any], **settings: Any) -> AsyncIterator[Any]:
    """A test cluster (the controller simulator, `kubelet(sandbox root)`) and an mbox
    server on it: (server, cluster)."""
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-kube-"))
    root = sandbox_dir(work)
    try:
        with KubeCluster(
            kubelet_factory=lambda store: kubelet(root),
            controller_factory=lambda store: AgentSandboxController(),
        ) as cluster:
            kubeconfig = cluster.kubeconfig(work / "kubeconfig")
            overrides = {"kubeconfig": kubeconfig, "kube_context": "mbox-test", **settings}
            async with bench_server(runtime="kubernetes", **overrides) as server:
                yield server, cluster
    finally:
        shutil.rmtree(work, ignore_errors=True)


def kube_objects(cluster: KubeCluster, kind: str, label_selector: str = "") -> list[dict]:
    return cluster.call(
        lambda store: store.list(store.resource(kind), NAMESPACE, label_selector=label_selector)[0]
    )


def warm_launches(cluster: KubeCluster) -> int:
    """How many measured launches (claims `l-...`) adopted a pool member. The unmeasured
    first one may or may not: its pool is made with it."""
    claims = kube_objects(cluster, "SandboxClaim")
    names = {claim["metadata"]["uid"]: claim["metadata"]["name"] for claim in claims}
    adopted = kube_objects(cluster, "Sandbox", f"{LAUNCH_TYPE}=warm,{CLAIM_UID}")
    claimed_by = (names.get(sandbox["metadata"]["labels"][CLAIM_UID], "") for sandbox in adopted)
    return sum(name.startswith("l-") for name in claimed_by)


# -- through the API ------------------------------------------------------------------------


async def launch_fields(server: BenchServer, project: str = NAMESPACE) -> dict:
    """A project (in its own namespace) and a template: what a launch names."""
    found = await server.post("/v1/projects", {"name": project, "defaultNamespace": project})
    template = await server.post("/v1/templates", {"name": project, "image": "host"})
    return {"projectId": found["id"], "templateId": template["id"]}


async def launch_ms(server: BenchServer, fields: dict, name: str) -> float:
    started = time.perf_counter()
    sandbox = await server.post("/v1/sandboxes", {**fields, "name": name})
    await server.until_running(sandbox)
    return (time.perf_counter() - started) * 1000


async def until(ready: Callable[[], bool], what: str, timeout: float = POOL_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        check(time.monotonic() < deadline, f"{what} after {timeout:g} s")
        await asyncio.sleep(0.01)


# -- 1. convergence -------------------------------------------------------------------------


async def converge(count: int) -> None:
    """`count` sandboxes from scratch on the fake kubelet: seconds until all run, and the
    API requests they cost."""
    with counted_requests() as requests:
        async with kube_server(FakeKubelet) as (server, _):
            runtime = server.runtime
            informers = (runtime.claims, runtime.sandboxes, runtime.pods)
            # Each informer's first list and watch are the server's, not the sandboxes'.
            await until(lambda: all(i.requests >= 2 for i in informers), "informers not watching")
            before, watched_before = Counter(requests), sum(i.requests for i in informers)
            started = time.perf_counter()
            projects = await create_sandboxes(server, count)
            await until_all_running(server, projects, count)
            elapsed = time.perf_counter() - started
            received = requests - before
            informed = sum(i.requests for i in informers) - watched_before
    per_sandbox = received.total() / count
    label = f"converge {count} sandboxes (kubernetes, fake kubelet)"
    print(f"mbox      {label}   {elapsed:7.2f} s   {per_sandbox:5.2f} API requests/sandbox")
    verbs = ", ".join(f"{verb} {n}" for verb, n in sorted(received.items()))
    print(f"          the API server answered {received.total()} ({verbs});"
          f" the informers' lists and watches: {informed}")  # fmt: skip
    check(
        per_sandbox <= MAX_REQUESTS_PER_SANDBOX,
        f"{per_sandbox:.2f} API requests per sandbox (at most {MAX_REQUESTS_PER_SANDBOX})",
    )


async def create_sandboxes(server: BenchServer, count: int) -> list[str]:
    """`count` sandboxes, PER_PROJECT to a project; the projects' ids."""
    fields = [await launch_fields(server, f"bench-{n}") for n in range(-(-count // PER_PROJECT))]
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def create(n: int) -> None:
        async with slots:
            await server.post("/v1/sandboxes", {**fields[n // PER_PROJECT], "name": f"s-{n}"})

    await asyncio.gather(*(create(n) for n in range(count)))
    return [one["projectId"] for one in fields]


async def until_all_running(server: BenchServer, projects: list[str], count: int) -> None:
    """Poll each project's list until all its sandboxes run. Every list is a database
    transaction that competes with the reconciler's, so a project all running is not
    asked again, and the interval grows with the count."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT + CONVERGE_TIMEOUT_PER_SANDBOX * count
    interval = min(1.0, max(0.05, count / 1000))
    waiting = {project: Counter() for project in projects}
    while waiting:
        for project in list(waiting):
            waiting[project] = statuses = await project_statuses(server, project)
            failed = sum(statuses[status] for status in SANDBOX_FAILED)
            check(not failed, f"{failed} sandboxes did not start: {dict(statuses)}")
            if set(statuses) == {"running"}:
                del waiting[project]
        left = sum((statuses for statuses in waiting.values()), Counter())
        check(time.monotonic() < deadline, f"not all running: {dict(left)}")
        if waiting:
            await asyncio.sleep(interval)


async def project_statuses(server: BenchServer, project: str) -> Counter:
    response = await server.client.get("/v1/sandboxes", params={"projectId": project, "limit": 500})
    assert response.status_code == 200, response.text
    return Counter(sandbox["status"] for sandbox in response.json()["items"])


# -- 2. launch latency ----------------------------------------------------------------------


@dataclass
class Launches:
    """One runtime's launches, one at a time; `ready` is awaited before each."""

    server: BenchServer
    fields: dict
    ready: Callable[[], Awaitable[None]] | None = None
    samples: list[float] = field(default_factory=list)

    async def launch(self) -> None:
        if self.ready:
            await self.ready()
        name = f"l-{len(self.samples)}"
        self.samples.append(await launch_ms(self.server, self.fields, name))


async def launches(
    server: BenchServer, ready: Callable[[], Awaitable[None]] | None = None
) -> Launches:
    """Launches on `server`, after an unmeasured first one (the namespace, template and
    pool are made with it, as at a user's first launch)."""
    fields = await launch_fields(server)
    await launch_ms(server, fields, "first")
    return Launches(server, fields, ready)


async def kube_launches(
    stack: contextlib.AsyncExitStack, warm_pool: int
) -> tuple[Launches, KubeCluster]:
    """Launches on a cluster of its own; with a warm pool, each waits until it is full."""
    server, cluster = await stack.enter_async_context(
        kube_server(LocalKubelet, kube_warm_pool=warm_pool)
    )

    def pool_full() -> bool:
        pools = kube_objects(cluster, "SandboxWarmPool")
        return all((p.get("status") or {}).get("readyReplicas", 0) >= warm_pool for p in pools)

    async def refilled() -> None:
        await until(pool_full, "the warm pool not refilled")

    return await launches(server, refilled if warm_pool else None), cluster


def check_adopted(cluster: KubeCluster, found: Launches, warm_pool: int) -> None:
    adopted, expected = warm_launches(cluster), len(found.samples) if warm_pool else 0
    check(adopted == expected, f"{adopted} launches adopted a pool member, not {expected}")


async def launch_latency(count: int, warm_pool: int, smoke: bool) -> None:
    """The three kinds of launch in turns, so that all see the same load."""
    async with contextlib.AsyncExitStack() as stack:
        local = await launches(await stack.enter_async_context(bench_server()))
        cold, cold_cluster = await kube_launches(stack, 0)
        warm, warm_cluster = await kube_launches(stack, warm_pool)
        for _ in range(count):
            for kind in (local, cold, warm):
                await kind.launch()
        report(local.samples, cold.samples, warm.samples)
        check_adopted(cold_cluster, cold, 0)
        check_adopted(warm_cluster, warm, warm_pool)
    if not smoke:
        check(
            p50(warm.samples) < p50(cold.samples),
            "a warm pool's launches are no faster than a cold one's",
        )


def report(local: list[float], cold: list[float], warm: list[float]) -> None:
    print(f"baseline  launch -> running (local)                 {percentiles(local)}")
    print(f"mbox      launch -> running (kubernetes, cold pool) {percentiles(cold)}")
    print(f"mbox      launch -> running (kubernetes, warm pool) {percentiles(warm)}")
    print(f"          p50: warm / cold {p50(warm) / p50(cold):.2f}x,"
          f" cold / local {p50(cold) / p50(local):.2f}x,"
          f" warm / local {p50(warm) / p50(local):.2f}x")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    await converge(args.sandboxes)
    await launch_latency(args.launches, args.warm_pool, args.smoke)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandboxes", type=int, default=1000)
    parser.add_argument("--launches", type=int, default=10)
    parser.add_argument("--warm-pool", type=int, default=2)
    asyncio.run(main(parse_args(parser, {"sandboxes": 5, "launches": 2})))
