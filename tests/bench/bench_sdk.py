"""Benchmark the automation surfaces: an SDK task run against a direct exec, and the CLI's
start-up, both against a baseline in the same run.

    .venv/bin/python tests/bench/bench_sdk.py [--runs 60] [--starts 15]
    .venv/bin/python tests/bench/bench_sdk.py --smoke   # tiny: the test suite's run

Prints:
- `sb.tasks.run(["true"])` from the blocking SDK (a client process of its own, as a
  program would be, HTTP to the server on loopback: a create the server answers when the
  task has ended) against the runtime's own exec of `true` in the same sandbox, in the
  server's process (no API, no database, no task runner).
  Target: SDK p50 <= 2x the direct exec p50.
- `mbox --help` wall time against the bare interpreter start (`python -c pass`).
  Target: <= 150 ms.
A missed target prints MISSED; a failed run (a task that did not succeed) exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mbox import Mbox  # noqa: E402
from tests.bench.harness import (  # noqa: E402
    bench_server,
    check,
    p50,
    parse_args,
    percentiles,
)

TASK_TARGET = 2.0  # x the direct exec
HELP_TARGET_MS = 150.0


async def direct_exec_ms(runtime, sandbox_id: str) -> float:
    started = time.perf_counter()
    process = await runtime.exec(uuid.UUID(sandbox_id), ["true"])
    code = await process.wait()
    elapsed = (time.perf_counter() - started) * 1000
    check(code == 0, f"direct exec of true exited {code}")
    return elapsed


async def sdk_runs_ms(base_url: str, sandbox_id: str, count: int) -> list[float]:
    """`count` runs timed by a client process (its start-up is not in the samples)."""
    client = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", base_url, sandbox_id, str(count),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await client.communicate()
    check(client.returncode == 0, f"the SDK client exited {client.returncode}")
    return json.loads(output)


def client_process(base_url: str, sandbox_id: str, count: int) -> None:
    """The client side: one SDK client, `count` runs, the samples as JSON on stdout."""
    samples = []
    with Mbox(api_url=base_url, token="") as mbox:
        sandbox = mbox.sandboxes.get(sandbox_id)
        sandbox.tasks.run(["true"])  # connection and first-use costs out of the samples
        for _ in range(count):
            started = time.perf_counter()
            result = sandbox.tasks.run(["true"])
            samples.append((time.perf_counter() - started) * 1000)
            check(result.status == "succeeded", f"task {result.id} {result.status}")
    print(json.dumps(samples))


async def task_round_trip(runs: int) -> None:
    async with bench_server() as server:
        sandbox = await server.running_sandbox()
        direct: list[float] = []
        sdk: list[float] = []
        batch = max(1, runs // 5)
        for _ in range(0, runs, batch):  # alternate, so both see the same machine load
            direct += [await direct_exec_ms(server.runtime, sandbox["id"]) for _ in range(batch)]
            sdk += await sdk_runs_ms(server.base_url, sandbox["id"], batch)
    ratio = p50(sdk) / p50(direct)
    verdict = "OK" if ratio <= TASK_TARGET else "MISSED"
    print(f"baseline  runtime exec `true` (direct)   {percentiles(direct)}")
    print(f"sdk       sb.tasks.run(['true'])          {percentiles(sdk)}")
    print(f"  SDK / direct: {ratio:.2f}x (target <= {TASK_TARGET:g}x): {verdict}", flush=True)


def wall_ms(command: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, env={**os.environ})
    elapsed = (time.perf_counter() - started) * 1000
    check(completed.returncode == 0, f"{command} exited {completed.returncode}")
    return elapsed


def cli_start_up(starts: int) -> None:
    mbox = str(Path(sys.executable).with_name("mbox"))
    wall_ms([mbox, "--help"])  # bytecode compiled, files in the page cache
    bare = [wall_ms([sys.executable, "-c", "pass"]) for _ in range(starts)]
    helps = [wall_ms([mbox, "--help"]) for _ in range(starts)]
    verdict = "OK" if p50(helps) <= HELP_TARGET_MS else "MISSED"
    print(f"baseline  python -c pass                  {percentiles(bare)}")
    print(f"cli       mbox --help                      {percentiles(helps)}")
    print(f"  mbox --help p50 (target <= {HELP_TARGET_MS:g} ms): {verdict}", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client_process(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="task runs of each kind")
    parser.add_argument("--starts", type=int, default=15, help="CLI starts of each kind")
    args = parse_args(parser, smoke={"runs": 4, "starts": 2})
    asyncio.run(task_round_trip(args.runs))
    cli_start_up(args.starts)


if __name__ == "__main__":
    main()
