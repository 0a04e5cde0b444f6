"""Benchmark the local runtime through the real API, against bare baselines in the same run.

    .venv/bin/python tests/bench/bench_runtime.py [--sandboxes 50] [--tasks 50] [--fleet 100]
    .venv/bin/python tests/bench/bench_runtime.py --smoke   # tiny: the test suite's run

Prints: launch to running (POST /v1/sandboxes until GET says running, the reconciler
running in the background as in the server) vs a bare `bwrap true`; task round trip for
`true` (POST task until GET says succeeded) vs a bare `nsenter ... true`; the server's RSS
with a fleet of sandboxes running. Targets (2-core machine): launch p50 <= 100 ms, task
round trip p50 <= 30 ms, RSS <= 400 MB with 100 sandboxes.

Launches and tasks alternate with and without the syscall filter (seccomp), so both are
measured under the same load; the filter may cost at most 10 % of either p50. Launch
latency grows with the sandboxes already running (the reconciler's pass, the mount table
every new namespace copies): `--sandboxes N` launches N in all, half of them unfiltered,
so runs of different versions with the same N compare. `--tasks N` runs N of each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from backend.runtime import seccomp  # noqa: E402
from backend.runtime.local import LocalRuntime  # noqa: E402
from backend.services import build_services  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from tests.bench.harness import parse_args  # noqa: E402
from tests.conftest import sandbox_dir  # noqa: E402
from tests.support.in_process import served_in_process  # noqa: E402

# Statuses a sandbox or task never leaves for running / succeeded: the bench cannot go on.
ENDED = ("failed", "canceled", "timed_out", "stopped", "deleted")
WAIT_TIMEOUT = 60.0  # seconds, on a busy machine


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms   (n={len(ordered)})"


def bare_bwrap_ms(runs: int) -> list[float]:
    command = [
        "bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc",
        "--dev", "/dev", "--tmpfs", "/tmp", "--", "true",
    ]  # fmt: skip
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Unfiltered:
    """Starts commands the way the runtime did before its filter."""

    spawn = staticmethod(asyncio.create_subprocess_exec)


def set_syscall_filter(runtime: LocalRuntime, on: bool) -> None:
    """The runtime with its filter, or as it was before it (for comparison only): no
    --seccomp/--disable-userns for bwrap, commands started from the event loop."""
    if on:
        vars(runtime).pop("_bwrap_arguments", None)
        runtime._launcher = FILTERED.setdefault("launcher", runtime._launcher)
        return
    FILTERED.setdefault("launcher", runtime._launcher)

    def unfiltered(*args: object) -> list[str]:
        arguments = LocalRuntime._bwrap_arguments(runtime, *args)  # type: ignore[arg-type]
        at = arguments.index("--seccomp")
        del arguments[at : at + 2]
        arguments.remove("--disable-userns")
        return arguments

    runtime._bwrap_arguments = unfiltered  # type: ignore[method-assign]
    runtime._launcher = Unfiltered()  # type: ignore[assignment]


FILTERED: dict[str, seccomp.Launcher] = {}


def compare(name: str, filtered: list[float], unfiltered: list[float]) -> None:
    print(f"mbox      {name:<28} {percentiles(filtered)}")
    print(f"  without the syscall filter         {percentiles(unfiltered)}")
    change = statistics.median(filtered) / statistics.median(unfiltered) - 1
    print(f"  the filter's cost: p50 {change:+.1%}")


async def until(client: httpx.AsyncClient, url: str, field: str, value: str) -> None:
    """Poll until `field` is `value`; an HTTP error, an ended status or a long wait fails."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        response = await client.get(url)
        response.raise_for_status()
        current = response.json()[field]
        if current == value:
            return
        assert current not in ENDED, f"{url}: {field} {current}, not {value}"
        assert time.monotonic() < deadline, f"{url}: {field} {current} after {WAIT_TIMEOUT} s"
        await asyncio.sleep(0.002)


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-"))
    settings = load_settings(
        data_dir=work / "data", local_sandbox_dir=sandbox_dir(work), reconcile_interval=1.0
    )
    services = build_services(settings)
    runtime = services.runtime
    async with served_in_process(settings, services) as client:
        project = (
            await client.post("/v1/projects", json={"name": "bench", "defaultNamespace": "bench"})
        ).json()
        template = (
            await client.post("/v1/templates", json={"name": "bench", "image": "host"})
        ).json()

        async def launch() -> tuple[dict, float]:
            started = time.perf_counter()
            response = await client.post(
                "/v1/sandboxes",
                json={
                    "projectId": project["id"],
                    "templateId": template["id"],
                    "name": f"b-{time.time_ns()}",
                },
            )
            sandbox = response.json()
            await until(client, f"/v1/sandboxes/{sandbox['id']}", "status", "running")
            return sandbox, (time.perf_counter() - started) * 1000

        async def task(sandbox: dict) -> float:
            started = time.perf_counter()
            url = f"/v1/sandboxes/{sandbox['id']}/tasks"
            created = (await client.post(url, json={"command": ["true"]})).json()
            await until(client, f"/v1/tasks/{created['id']}", "status", "succeeded")
            return (time.perf_counter() - started) * 1000

        async def exec_true(sandbox: dict) -> float:
            started = time.perf_counter()
            process = await runtime.exec(uuid.UUID(sandbox["id"]), ["true"])
            await process.wait()
            return (time.perf_counter() - started) * 1000

        async def alternating(measure, count: int) -> tuple[list, list]:
            """`count` samples, half with and half without the filter, taken in turns."""
            samples: tuple[list, list] = ([], [])
            for turn in range(count):
                set_syscall_filter(runtime, turn % 2 == 0)
                samples[turn % 2].append(await measure())
            set_syscall_filter(runtime, True)
            return samples

        print(f"baseline  bare `bwrap true`          {percentiles(bare_bwrap_ms(args.sandboxes))}")
        launches, unfiltered_launches = await alternating(launch, args.sandboxes)
        launched = launches + unfiltered_launches
        compare("launch -> running (API)", [ms for _, ms in launches],
                [ms for _, ms in unfiltered_launches])  # fmt: skip

        target = launches[0][0]
        bare, unfiltered_bare = await alternating(lambda: exec_true(target), 2 * args.tasks)
        samples, unfiltered_samples = await alternating(lambda: task(target), 2 * args.tasks)
        compare("runtime exec `true`", bare, unfiltered_bare)
        compare("task round trip (API)", samples, unfiltered_samples)

        before = rss_mb()
        for _ in range(max(0, args.fleet - len(launched))):
            launched.append(await launch())
        print(
            f"server    RSS with {len(launched)} sandboxes running: {rss_mb():.0f} MB"
            f" (before the fleet: {before:.0f} MB)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandboxes", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--fleet", type=int, default=100)
    asyncio.run(main(parse_args(parser, {"sandboxes": 2, "tasks": 2, "fleet": 6})))
