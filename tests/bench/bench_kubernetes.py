"""Benchmark the Kubernetes runtime against the test API server, with the local runtime as
the baseline in the same run.

    .venv/bin/python tests/bench/bench_kubernetes.py [--sandboxes 1000] [--launches 10]
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
   launches on the local runtime as the baseline. Every warm launch must adopt a pool
   member; in full runs the warm pool's p50 must beat the cold pool's.

Each launch phase has its own server (and cluster) and first launches one sandbox
unmeasured: it makes the namespace, template and pool, as a user's first launch does.
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
    template = await server.post("/v1/templates", {"name": project, "image": "local"})
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
            informers = server.runtime._informers()
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


async def launch_latency(
    server: BenchServer, count: int, before_each: Callable[[], Awaitable[None]] | None = None
) -> list[float]:
    """`count` launches, one at a time, after an unmeasured first one."""
    fields = await launch_fields(server)
    await launch_ms(server, fields, "first")
    samples = []
    for n in range(count):
        if before_each:
            await before_each()
        samples.append(await launch_ms(server, fields, f"l-{n}"))
    return samples


async def kube_launches(count: int, warm_pool: int) -> list[float]:
    async with kube_server(LocalKubelet, kube_warm_pool=warm_pool) as (server, cluster):

        def pool_ready() -> bool:
            pools = kube_objects(cluster, "SandboxWarmPool")
            return all((p.get("status") or {}).get("readyReplicas", 0) >= warm_pool for p in pools)

        async def refilled() -> None:
            await until(pool_ready, "the warm pool not refilled")

        samples = await launch_latency(server, count, refilled if warm_pool else None)
        adopted = warm_launches(cluster)
    expected = count if warm_pool else 0
    check(adopted == expected, f"{adopted} launches adopted a pool member, not {expected}")
    return samples


async def main(args: argparse.Namespace) -> None:
    await converge(args.sandboxes)
    async with bench_server() as server:
        local = await launch_latency(server, args.launches)
    cold = await kube_launches(args.launches, 0)
    warm = await kube_launches(args.launches, args.warm_pool)
    print(f"baseline  launch -> running (local)                 {percentiles(local)}")
    print(f"mbox      launch -> running (kubernetes, cold pool) {percentiles(cold)}")
    print(f"mbox      launch -> running (kubernetes, warm pool) {percentiles(warm)}")
    print(f"          p50: warm / cold {p50(warm) / p50(cold):.2f}x,"
          f" cold / local {p50(cold) / p50(local):.2f}x,"
          f" warm / local {p50(warm) / p50(local):.2f}x")  # fmt: skip
    if not args.smoke:
        check(p50(warm) < p50(cold), "a warm pool's launches are no faster than a cold one's")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandboxes", type=int, default=1000)
    parser.add_argument("--launches", type=int, default=10)
    parser.add_argument("--warm-pool", type=int, default=2)
    asyncio.run(main(parse_args(parser, {"sandboxes": 5, "launches": 2})))
