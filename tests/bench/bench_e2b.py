"""Benchmark E2B compatibility: E2B's SDK against mbox's own SDK doing the same work on
the same server, in the same run.

    .venv/bin/python tests/bench/bench_e2b.py [--runs 20] [--code-runs 50] [--image-dir DIR]
    .venv/bin/python tests/bench/bench_e2b.py --smoke   # tiny: the test suite's run

Prints, each timed by a client process of its own (HTTP on loopback, as a program is):
- `Sandbox.create()` + `sb.commands.run("true")` through the unmodified `e2b` SDK, against
  mbox's SDK `mbox.sandboxes.create(...)` (waiting until it runs) + `sb.tasks.run(["true"])`
  (the baseline). Target: E2B p50 <= 1.5x the baseline p50.
- `commands.run("true")` in a running sandbox against `sb.tasks.run(["true"])`.
- `run_code("1+1")` through `e2b-code-interpreter` against mbox's SDK `sb.code.run("1+1")`
  in the same code-interpreter sandbox (one Jupyter kernel: the round trip is what
  differs). The template is built first (minutes, once per image dir: `--image-dir` keeps
  it between runs).
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
BUILD_SECONDS = 900  # a first build of the Code Interpreter image


def code_client(base_url: str, sandbox_id: str, runs: int) -> None:
    """run_code("1+1") through both SDKs in one code-interpreter sandbox."""
    from e2b_code_interpreter import Sandbox

    from mbox import Mbox

    os.environ.update(E2B_API_KEY="bench", E2B_API_URL=base_url, E2B_SANDBOX_URL=base_url)
    samples: dict[str, list[float]] = {"e2b": [], "mbox": []}
    sb = Sandbox.connect(sandbox_id)
    with Mbox(api_url=base_url, token="") as mbox:
        own = mbox.sandboxes.get(sandbox_id)
        check(sb.run_code("1+1").text == "2", "run_code(1+1) is not 2")  # kernels warm
        check(own.code.run("1+1").text == "2", "sb.code.run(1+1) is not 2")
        for _ in range(runs):
            started = time.perf_counter()
            text = sb.run_code("1+1").text
            samples["e2b"].append((time.perf_counter() - started) * 1000)
            check(text == "2", f"run_code(1+1) gave {text!r}")
            started = time.perf_counter()
            text = own.code.run("1+1").text
            samples["mbox"].append((time.perf_counter() - started) * 1000)
            check(text == "2", f"sb.code.run(1+1) gave {text!r}")
    print(json.dumps(samples))


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


async def client(*arguments: str) -> dict[str, list[float]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *arguments, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    check(process.returncode == 0, f"the client {arguments[0]} exited {process.returncode}")
    return json.loads(output)


async def compare(runs: int, code_runs: int, image_dir: str | None) -> None:
    overrides = {"image_dir": image_dir} if image_dir else {}
    async with bench_server(e2b_project=PROJECT, **overrides) as server:
        sandbox = await server.running_sandbox()  # makes the project and its template
        samples = await client("--client", server.base_url, sandbox["templateId"], str(runs))
        interpreter = await server.post(
            "/v1/sandboxes",
            {
                "projectId": sandbox["projectId"],
                "templateId": await code_template(server),
                "name": "kernel",
            },
        )
        started = time.monotonic()
        await server.until_running(interpreter, timeout=BUILD_SECONDS)
        built = time.monotonic() - started
        code = await client("--code", server.base_url, interpreter["id"], str(code_runs))
    ratio = p50(samples["e2b"]) / p50(samples["mbox"])
    verdict = "OK" if ratio <= TARGET else "MISSED"
    print(f"baseline  mbox create + tasks.run(['true'])     {percentiles(samples['mbox'])}")
    print(f"e2b       Sandbox.create + commands.run('true') {percentiles(samples['e2b'])}")
    print(f"  E2B / mbox SDK: {ratio:.2f}x (target <= {TARGET:g}x): {verdict}")
    print(f"baseline  sb.tasks.run(['true'])                {percentiles(samples['mbox-run'])}")
    print(f"e2b       sb.commands.run('true')               {percentiles(samples['e2b-run'])}")
    print(f"code-interpreter sandbox running after {built:.1f} s (its image built if need be)")
    print(f"baseline  sb.code.run('1+1') (mbox SDK)         {percentiles(code['mbox'])}")
    print(f"e2b       run_code('1+1')                       {percentiles(code['e2b'])}")


async def code_template(server) -> str:
    """The built-in Code Interpreter template's id."""
    templates = (await server.client.get("/v1/templates")).json()["items"]
    return next(t["id"] for t in templates if t["slug"] == "code-interpreter")


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client_process(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if sys.argv[1:2] == ["--code"]:
        code_client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="create + run, of each kind")
    parser.add_argument("--code-runs", type=int, default=50, help="run_code round trips")
    parser.add_argument("--image-dir", help="where built images are kept (default: a new one)")
    args = parse_args(parser, smoke={"runs": 2, "code_runs": 3})
    asyncio.run(compare(args.runs, args.code_runs, args.image_dir))


if __name__ == "__main__":
    main()
