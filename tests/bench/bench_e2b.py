"""Benchmark E2B compatibility: E2B's SDK against mbox's own SDK doing the same work on
the same server, in the same run.

    .venv/bin/python tests/bench/bench_e2b.py [--runs 20]
    .venv/bin/python tests/bench/bench_e2b.py --smoke   # tiny: the test suite's run

Prints, each timed by a client process of its own (HTTP on loopback, as a program is):
- `Sandbox.create()` + `sb.commands.run("true")` through the unmodified `e2b` SDK, against
  mbox's SDK `mbox.sandboxes.create(...)` (waiting until it runs) + `sb.tasks.run(["true"])`
  (the baseline). Target: E2B p50 <= 1.5x the baseline p50.
- `commands.run("true")` in a running sandbox against `sb.tasks.run(["true"])`.
A missed target prints MISSED; a failed run exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.harness import bench_server, check, p50, parse_args, percentiles  # noqa: E402

TARGET = 1.5  # x mbox's own SDK
PROJECT = "bench"  # the harness's project slug; E2B launches there (MBOX_E2B_PROJECT)


def client_process(base_url: str, template: str, runs: int) -> None:
    """The client side: both SDKs, alternating, samples as JSON on stdout."""
    from e2b import Sandbox

    from mbox import Mbox

    os.environ.update(E2B_API_KEY="bench", E2B_API_URL=base_url, E2B_SANDBOX_URL=base_url)
    samples: dict[str, list[float]] = {"e2b": [], "mbox": [], "e2b-run": [], "mbox-run": []}
    with Mbox(api_url=base_url, token="") as mbox:
        for _ in range(runs):
            started = time.perf_counter()
            sb = Sandbox.create(template=template, timeout=300)
            result = sb.commands.run("true")
            samples["e2b"].append((time.perf_counter() - started) * 1000)
            check(result.exit_code == 0, f"e2b run of true exited {result.exit_code}")
            samples["e2b-run"].append(_timed(sb.commands.run, "true"))
            sb.kill()

            started = time.perf_counter()
            own = mbox.sandboxes.create(template, project=PROJECT)
            task = own.tasks.run(["true"])
            samples["mbox"].append((time.perf_counter() - started) * 1000)
            check(task.status == "succeeded", f"task {task.id} {task.status}")
            samples["mbox-run"].append(_timed(own.tasks.run, ["true"]))
            own.delete()
    print(json.dumps(samples))


def _timed(work, *args) -> float:
    started = time.perf_counter()
    work(*args)
    return (time.perf_counter() - started) * 1000


async def compare(runs: int) -> None:
    async with bench_server(e2b_project=PROJECT) as server:
        sandbox = await server.running_sandbox()  # makes the project and its template
        template = sandbox["templateId"]
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", server.base_url, template, str(runs),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await client.communicate()
        check(client.returncode == 0, f"the client exited {client.returncode}")
        samples = json.loads(output)
    ratio = p50(samples["e2b"]) / p50(samples["mbox"])
    verdict = "OK" if ratio <= TARGET else "MISSED"
    print(f"baseline  mbox create + tasks.run(['true'])     {percentiles(samples['mbox'])}")
    print(f"e2b       Sandbox.create + commands.run('true') {percentiles(samples['e2b'])}")
    print(f"  E2B / mbox SDK: {ratio:.2f}x (target <= {TARGET:g}x): {verdict}")
    print(f"baseline  sb.tasks.run(['true'])                {percentiles(samples['mbox-run'])}")
    print(f"e2b       sb.commands.run('true')               {percentiles(samples['e2b-run'])}")


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client_process(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="create + run, of each kind")
    args = parse_args(parser, smoke={"runs": 2})
    asyncio.run(compare(args.runs))


if __name__ == "__main__":
    main()
