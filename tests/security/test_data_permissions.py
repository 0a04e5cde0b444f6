"""Attack: another local user (or a sandbox uid, which is just another host uid) reads
the server's data dir: the SQLite database (token hashes, audit, sessions), task output,
terminal recordings, retained artifacts, logs. They took the umask's default (0644 files
in a 0755 dir). Stopped by: at start the server sets a private umask (files 0600,
directories without read for others) and makes its data dir 0700; workspaces then live
outside it (sandbox uids cannot walk into a 0700 dir)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from backend.runtime.local import sandbox_root
from tests.conftest import sandbox_dir

ROOT = Path(__file__).resolve().parents[2]

# A whole server's life in one process, started the way `mbox-server` starts
# (backend.server.check_startup, settings from MBOX_* variables): it launches a sandbox,
# writes a file, runs a task whose output is kept, uploads and captures artifacts (the
# filesystem store), then stops; it prints what it saw from inside the sandbox.
SERVER = r"""
import asyncio, json, sys

import httpx

from backend import engines
from backend.api.app import create_api
from backend.server import check_startup, get_services


async def main():
    check_startup()
    services = get_services()
    app = create_api(services=services)
    transport = httpx.ASGITransport(app=app)
    async with (
        services,
        engines.running(services),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api,
    ):
        async def until(url, status):
            for _ in range(1500):
                found = (await api.get(url)).json()
                if found["status"] in status:
                    return found
                await asyncio.sleep(0.02)
            raise SystemExit(f"{url} never reached {status}: {found}")

        created = await api.post("/v1/projects", json={"name": "p", "defaultNamespace": "ns"})
        project = created.json()
        assert created.status_code == 201, created.text
        template = (await api.post("/v1/templates", json={"name": "t", "image": "host"})).json()
        launch = {"projectId": project["id"], "templateId": template["id"], "name": "box"}
        sandbox = (await api.post("/v1/sandboxes", json=launch)).json()
        box = f"/v1/sandboxes/{sandbox['id']}"
        await until(box, ("running",))
        put = await api.put(f"{box}/files/content", params={"path": "in.txt"}, content=b"hi")
        assert put.status_code == 204, put.text
        script = "cat in.txt; echo made > out.txt; mkdir -p d && echo t > /tmp/t && cat /tmp/t"
        task = (await api.post(f"{box}/tasks", json={"command": ["sh", "-c", script]})).json()
        task = await until(f"/v1/tasks/{task['id']}", ("succeeded", "failed"))
        artifact = (await api.post(f"{box}/artifacts", json={
            "kind": "file", "name": "out.txt", "uri": "workspace://out.txt"})).json()
        captured = await api.post(f"/v1/artifacts/{artifact['id']}/capture")
        assert captured.status_code == 200, captured.text
        other = (await api.post(f"{box}/artifacts", json={
            "kind": "file", "name": "up.bin", "uri": "https://example.invalid/up.bin"})).json()
        uploaded = await api.put(f"/v1/artifacts/{other['id']}/content", content=b"x" * 1000)
        assert uploaded.status_code == 200, uploaded.text
        await api.delete(box)  # its workspace (and any volume) goes too
        for _ in range(500):
            gone = (await api.get(box)).status_code == 404
            if gone and not list(services.runtime.root.glob("*/workspace")):
                break
            await asyncio.sleep(0.02)
        print(json.dumps({"task": task["status"], "stdout": task.get("stdout", "")}), flush=True)


asyncio.run(main())
"""


def _modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.lstat().st_mode)
        for path in [root, *root.rglob("*")]
        if not path.is_symlink()
    }


def test_a_fresh_data_dir_is_private(tmp_path):
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "MBOX_DATA_DIR": str(data_dir),
        "MBOX_LOCAL_SANDBOX_DIR": str(sandbox_dir(tmp_path)),
        "MBOX_ARTIFACT_CONTENT_BACKEND": "filesystem",
        "MBOX_RECONCILE_INTERVAL": "0.05",
    }
    env.pop("DATABASE_URL", None)
    env.pop("MBOX_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,  # the usual default, which the server must not keep
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Sandboxes still work under the server's umask: the task read the upload and wrote.
    assert seen["task"] == "succeeded", seen
    assert seen["stdout"] == "hit\n", seen

    modes = _modes(data_dir)
    assert modes["."] == 0o700
    assert "mbox.db" in modes and any(name.startswith("task-output") for name in modes)
    assert any(name.startswith("artifacts/") for name in modes), modes
    readable = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode & 0o066  # read or write for group or others
    }
    assert readable == {}, readable


def test_workspaces_never_need_a_path_through_a_private_data_dir(tmp_path):
    """As root, a 0700 data dir moves the default workspace root out of it."""
    data_dir = tmp_path / "private"
    data_dir.mkdir(mode=0o700)
    data_dir.chmod(0o700)
    if os.geteuid() == 0:
        assert not sandbox_root(data_dir).is_relative_to(data_dir)
