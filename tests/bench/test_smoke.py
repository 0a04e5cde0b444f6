"""Every benchmark in its smoke run (`--smoke`: the smallest sizes that still run every step,
correctness checked, speed not judged), so a benchmark that stopped working fails here
rather than at its next full run. Each runs as a user runs it: a subprocess from the repo
root; it must exit 0 and print its numbers (a benchmark that prints nothing fails)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"[\d.]+"
# Benchmark, extra arguments, lines its output must hold (regexes), timeout in seconds.
SMOKE_RUNS = {
    "runtime": (
        [],
        [
            rf"launch -> running \(API\)\s+p50\s+{NUMBER} ms",
            rf"task round trip \(API\)\s+p50\s+{NUMBER} ms",
            rf"RSS with 6 sandboxes running: {NUMBER} MB",
        ],
        90,
    ),
    "images": (
        [],
        [
            rf"first pull \(resolve, copy, unpack\)\s+{NUMBER} MB/s",
            rf"launch -> running \(cached image\)\s+p50\s+{NUMBER} ms",
            rf"a cached image's launch takes {NUMBER}x the host-root launch",
        ],
        180,
    ),
    "terminal": (
        [],
        [
            rf"keystroke echo, WebSocket\s+p50\s+{NUMBER} ms",
            r"2 terminals in 1 sandboxes .*: 2/2 intact and in order",
        ],
        90,
    ),
    "preview": (
        [],
        [
            rf"preview origin\s+p50\s+{NUMBER} ms",
            rf"/v1/\.\.\./proxy/ \(API origin\)\s+1 MiB response:\s+{NUMBER} MB/s",
        ],
        90,
    ),
    "artifacts": (
        [],
        [
            rf"(?m)^database-sqlite\s+\|\s+{NUMBER}\s+\|\s+{NUMBER}",
            rf"(?m)^filesystem\s+\|\s+{NUMBER}\s+\|\s+{NUMBER}",
            rf"(?m)^s3\s+\|\s+{NUMBER}\s+\|\s+{NUMBER}",
        ],
        180,
    ),
    "kubernetes": (
        [],
        [
            rf"converge 5 sandboxes \(kubernetes, fake kubelet\)\s+{NUMBER} s"
            rf"\s+{NUMBER} API requests/sandbox",
            rf"launch -> running \(local\)\s+p50\s+{NUMBER} ms",
            rf"launch -> running \(kubernetes, cold pool\)\s+p50\s+{NUMBER} ms",
            rf"launch -> running \(kubernetes, warm pool\)\s+p50\s+{NUMBER} ms",
        ],
        90,
    ),
    "audit": (
        [],
        [
            rf"audit writes, sqlite, sealed\s+{NUMBER} events/s",
            rf"verify, sqlite\s+{NUMBER} events/s",
        ],
        120,
    ),
    "metrics": (
        [],
        [
            rf"sampling round, 3 sandboxes\s+p50\s+{NUMBER} ms",
            rf"reconcile pass, 3 sandboxes\s+p50\s+{NUMBER} ms",
            rf"GET \.\.\./metrics\?window=3600 \({NUMBER} samples\)\s+p50\s+{NUMBER} ms",
        ],
        90,
    ),
    "sdk": (
        [],
        [
            rf"sb\.tasks\.run\(\['true'\]\)\s+p50\s+{NUMBER} ms",
            rf"SDK / direct: {NUMBER}x",
            rf"mbox --help\s+p50\s+{NUMBER} ms",
        ],
        90,
    ),
    # The Code Interpreter image from the session's cache (built once a run).
    "e2b": (
        ["--image-dir", "{image_cache}"],
        [
            rf"Sandbox\.create \+ commands\.run\('true'\)\s+p50\s+{NUMBER} ms",
            rf"E2B / mbox SDK: {NUMBER}x",
            rf"sb\.commands\.run\('true'\)\s+p50\s+{NUMBER} ms",
            rf"run_code\('1\+1'\)\s+p50\s+{NUMBER} ms",
        ],
        600,
    ),
    # The production console (scripts/run reuses its build) in Chromium.
    "console": (
        ["--output", "{tmp_path}"],
        [
            rf"/projects first load to interactive\s+p50\s+{NUMBER} ms",
            rf"API start to row Running \(runtime included\)\s+p50\s+{NUMBER} ms",
        ],
        360,
    ),
}


def run(arguments: list[str], tmp_path: Path, timeout: float) -> tuple[int, str]:
    """Run to the end; past the timeout, interrupt it (so it stops the servers it started).
    Its temp files (data dirs, sandbox disks) go under `tmp_path`, which pytest prunes."""
    process = subprocess.Popen(
        arguments,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"no result after {timeout} s:\n{output[-4000:]}")
    return process.returncode, output


@pytest.mark.parametrize("bench", SMOKE_RUNS)
def test_benchmark_smoke_run(bench: str, tmp_path: Path, image_cache: Path) -> None:
    extra, expected, timeout = SMOKE_RUNS[bench]
    script = ROOT / "tests" / "bench" / f"bench_{bench}.py"
    arguments = [sys.executable, str(script), "--smoke"]
    arguments += [argument.format(tmp_path=tmp_path, image_cache=image_cache) for argument in extra]
    code, output = run(arguments, tmp_path, timeout)
    assert code == 0, f"bench_{bench}.py --smoke exited {code}:\n{output[-4000:]}"
    missing = [pattern for pattern in expected if not re.search(pattern, output)]
    assert not missing, f"bench_{bench}.py printed no {missing}:\n{output[-4000:]}"


def test_every_benchmark_has_a_smoke_run() -> None:
    benchmarks = {path.stem.removeprefix("bench_") for path in ROOT.glob("tests/bench/bench_*.py")}
    assert benchmarks == set(SMOKE_RUNS)
