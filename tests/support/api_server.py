"""The mbox API in a process of its own, so that its memory can be measured alone.

`python -m tests.support.api_server` serves the API (no console) with settings from MBOX_*
variables; `api_server(env)` starts it on a free port and stops it after. With
`engines=True` the reconciler and the task runner run too (sandboxes start, tasks run):
a whole server as the SDK, the CLI and the MCP server meet it, without the console build.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.builders import free_port

ROOT = Path(__file__).resolve().parents[2]
ENGINES = "MBOX_TEST_ENGINES"


@dataclass
class ServerProcess:
    base_url: str
    pid: int

    def _status(self, field: str) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError(f"no {field} for process {self.pid}")

    def rss_mb(self) -> float:
        return self._status("VmRSS")

    def peak_rss_mb(self) -> float:
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        """Start the peak (VmHWM) afresh from the current RSS (Linux clear_refs)."""
        with open(f"/proc/{self.pid}/clear_refs", "w") as refs:
            refs.write("5")


@contextlib.contextmanager
def api_server(
    env: dict[str, str], timeout: float = 30.0, *, engines: bool = False
) -> Iterator[ServerProcess]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.api_server"],
        cwd=ROOT,
        env={**os.environ, **env, "MBOX_PORT": str(port), ENGINES: "1" if engines else ""},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, timeout)
        yield ServerProcess(base_url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API server process exited during start-up"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"the API server did not answer within {timeout} s")


def main() -> None:
    import uvicorn

    from backend import engines
    from backend.api.app import create_api
    from backend.db import Database
    from backend.runtime import create_runtime
    from backend.services import build_services
    from backend.settings import load_settings

    settings = load_settings()
    database = Database(settings.database_url)
    database.migrate()
    runtime = create_runtime(settings)
    services = build_services(settings, database, runtime)
    app = create_api(services=services)
    lifespan = "off"
    if os.environ.get(ENGINES) == "1":

        @contextlib.asynccontextmanager
        async def run_engines(_app: object):
            async with services, engines.running(services):
                yield

        app.router.lifespan_context = run_engines
        lifespan = "on"
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan=lifespan,
        ws="websockets-sansio",
    )


if __name__ == "__main__":
    main()
