"""DNS rebinding: a page on evil.example re-points its own name at this machine and talks
to mbox as "same-origin". Real HTTP (uvicorn) on loopback; the startup check runs the
real `mbox-server`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_api
from backend.services import build_services
from tests.runtime.conftest import serving

MBOX_SERVER = Path(sys.executable).with_name("mbox-server")


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """Host checks do not depend on the database: SQLite only."""
    import shutil

    target = tmp_path / "mbox.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def default_settings(settings, **overrides):
    """The test settings with the product's defaults for the Host check."""
    return settings.model_copy(update={"allowed_hosts": "", **overrides})


async def answer(base: str, host: str, method: str = "GET", path: str = "/healthz", **kw):
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.request(method, path, headers={"Host": host, **kw}, timeout=10)


async def test_a_rebound_name_is_refused(settings, database, runtime):
    """Attack: evil.example resolves to 127.0.0.1 after the page loaded; its script then
    reads and writes the API "same-origin" (Host and Origin both evil.example), with no
    token needed when authentication is off. Stopped by: the Host allowlist, a 421 JSON
    for every path and method, WebSockets included."""
    app = create_api(services=build_services(default_settings(settings), database, runtime))
    async with serving(app) as base:
        port = base.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "localhost.evil.example"):
            for method, path in [("GET", "/v1/projects"), ("POST", "/v1/projects"), ("GET", "/")]:
                refused = await answer(base, host, method, path, Origin=f"http://{host}")
                assert refused.status_code == 421, (host, method, path)
                assert refused.json()["error"].startswith("this server does not answer to")
        socket = await answer(
            base, f"evil.example:{port}", path="/v1/sandboxes/x/terminal",
            Connection="Upgrade", Upgrade="websocket", **{"Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
        )  # fmt: skip
        assert socket.status_code == 421


async def test_loopback_and_preview_names_are_served(settings, database, runtime):
    """What the Host check must keep working on a loopback bind: every loopback name with
    any port, and preview origins `<port>-<sandbox id>.preview.localhost` (they reach the
    preview gate, which asks for its link: 401, not 421)."""
    app = create_api(services=build_services(default_settings(settings), database, runtime))
    async with serving(app) as base:
        port = base.rsplit(":", 1)[1]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]:8443", "app.localhost"):
            assert (await answer(base, host)).status_code == 200, host
        preview = f"3000-{uuid.uuid4().hex}.preview.localhost:{port}"
        assert (await answer(base, preview, path="/")).status_code == 401


async def test_deployed_names_come_from_settings(settings, database, runtime):
    """Behind an ingress: MBOX_ALLOWED_HOSTS names the console's host (a leading dot for
    its subdomains), the preview base URL adds its wildcard domain; others stay refused."""
    deployed = default_settings(
        settings,
        allowed_hosts="mbox.example.com, .internal.example",
        preview_base_url="https://preview.mbox.example.com",
    )
    app = create_api(services=build_services(deployed, database, runtime))
    async with serving(app) as base:
        for host in ("mbox.example.com", "MBOX.example.com.:443", "api.internal.example"):
            assert (await answer(base, host)).status_code == 200, host
        preview = f"8080-{uuid.uuid4().hex}.preview.mbox.example.com"
        assert (await answer(base, preview, path="/")).status_code == 401
        for host in ("evil.example", "mbox.example.com.evil.example", "internal.example.evil"):
            assert (await answer(base, host)).status_code == 421, host


def test_an_open_server_refuses_to_listen_beyond_loopback(tmp_path):
    """Attack: anyone on the network drives a server started with MBOX_HOST=0.0.0.0 and no
    token (authentication off). Stopped by: mbox-server refuses to start, with one line
    naming the settings; a token or a loopback address is required."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MBOX_") and key != "DATABASE_URL"
    }
    env.update(MBOX_HOST="0.0.0.0", MBOX_PORT="1", MBOX_DATA_DIR=str(tmp_path / "data"))
    process = subprocess.Popen(
        [str(MBOX_SERVER)], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "MBOX_API_TOKEN is required when MBOX_HOST (0.0.0.0)" in lines[0]
