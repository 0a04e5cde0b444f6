"""A server killed mid-task: after a restart no task is stuck `running`, the sandbox runs
again, and no process of the old server's sandboxes is left."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from backend.db import Database
from backend.engines import running
from backend.sandboxes.models import SandboxRow
from backend.services import build_services
from backend.settings import load_settings
from backend.tasks.models import ExecutionTaskRow
from tests.conftest import sandbox_dir

ROOT = Path(__file__).parents[2]


def _survivors(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return found.stdout.split()


async def test_restart_after_a_crash_mid_task(tmp_path):
    data_dir, sandboxes = tmp_path / "data", sandbox_dir(tmp_path)
    marker = str(random.randint(10**8, 10**9))
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.crash_server", str(data_dir), str(sandboxes), marker],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        # Bounded: a server that never gets its task running fails the test, not the run.
        line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 60)
        task_id = uuid.UUID(line.strip())
        # "running" means claimed: the process follows once the sandbox's network is up.
        for _ in range(200):
            if _survivors(marker):
                break
            await asyncio.sleep(0.05)
        assert _survivors(marker), "the task should be running"
        os.kill(server.pid, signal.SIGKILL)  # no cleanup of any kind
        server.wait()
        for _ in range(600):  # up to 30 s on a loaded machine
            if not _survivors(marker):
                break
            await asyncio.sleep(0.05)
        assert _survivors(marker) == []

        settings = load_settings(data_dir=data_dir, local_sandbox_dir=sandboxes)
        database = Database(settings.database_url)
        async with build_services(settings, database) as services, running(services):
            for _ in range(600):
                with database.session() as db:
                    task = db.get(ExecutionTaskRow, task_id)
                    sandbox = db.get(SandboxRow, task.sandbox_id)
                if task.status != "running" and sandbox.status_reason == "restarted":
                    break
                await asyncio.sleep(0.05)
        assert (task.status, task.error) == (
            "failed",
            "the server restarted while the task was running",
        )
        assert (sandbox.status, sandbox.status_reason) == ("running", "restarted")
        database.dispose()
    finally:
        server.kill()
        server.stdout.close()
        subprocess.run(["pkill", "-9", "-f", f"sleep {marker}"], check=False)
