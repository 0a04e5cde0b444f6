"""If the server process dies, however it dies, none of its sandboxes' processes survive."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import sandbox_dir

ROOT = Path(__file__).parents[2]
SERVER = """
import asyncio, sys
from pathlib import Path
from backend.runtime.local import LocalRuntime
from tests.runtime.conftest import LIMITS, spec

async def main():
    runtime = LocalRuntime(Path(sys.argv[1]), LIMITS)
    for network in ("restricted", "default", "open"):
        command = ("sh", "-c", f"sleep {sys.argv[2]} & exec sleep {sys.argv[2]}")
        box = spec(*command, network=network)
        await runtime.ensure(box)
        await (await runtime.exec(box.sandbox_id, ["true"])).wait()  # network attached
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _survivors(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return found.stdout.split()


def _children(pid: int, name: str) -> list[str]:
    found = subprocess.run(["pgrep", "-P", str(pid), name], capture_output=True, text=True)
    return found.stdout.split()


def _alive(pids: list[str]) -> list[str]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_killing_the_server_kills_every_sandbox(tmp_path):
    marker = str(random.randint(10**8, 10**9))
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(sandbox_dir(tmp_path)), marker],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert server.stdout.readline().strip() == "ready"
        assert len(_survivors(marker)) >= 6  # two sleeps in each of three sandboxes (+ bwrap)
        helpers = _children(server.pid, "slirp4netns")
        assert len(helpers) == 2  # egress for the default and open sandboxes
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 5
        while (_survivors(marker) or _alive(helpers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _survivors(marker) == []
        assert _alive(helpers) == []
    finally:
        server.kill()
        subprocess.run(["pkill", "-9", "-f", f"sleep {marker}"], check=False)
