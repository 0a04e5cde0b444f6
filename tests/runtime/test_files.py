"""Workspace files through the API: confined to the workspace, owned by the sandbox."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.runtime.conftest import run

pytestmark = pytest.mark.both_runtimes


@pytest.fixture
async def sandbox(world):
    return await world.running_sandbox()


def _files(sandbox: dict) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/files"


async def test_write_list_read_delete(world, sandbox):
    base = _files(sandbox)
    put = await world.client.put(
        f"{base}/content", params={"path": "src/app.py"}, content=b"print(1)\n"
    )
    assert put.status_code == 204
    listing = await world.get(base, path="src")
    [entry] = listing["items"]
    assert (entry["path"], entry["name"], entry["type"], entry["size"]) == (
        "src/app.py",
        "app.py",
        "file",
        9,
    )
    root = await world.get(base)
    assert [(e["name"], e["type"]) for e in root["items"]] == [("src", "directory")]
    read = await world.client.get(f"{base}/content", params={"path": "src/app.py"})
    assert read.content == b"print(1)\n"
    # The sandbox sees the file, and owns it.
    _, out, _ = await run(
        world.runtime, uuid.UUID(sandbox["id"]), "cat src/app.py; stat -c %u src/app.py src"
    )
    assert out.split("\n")[:3] == ["print(1)", "1000", "1000"]
    assert (await world.client.delete(base, params={"path": "src"})).status_code == 204
    assert (await world.get(base))["items"] == []
    actions = [
        e["action"]
        for e in (await world.get("/v1/audit-events", resourceId=sandbox["id"]))["items"]
    ]
    assert actions[:2] == ["sandbox.file.deleted", "sandbox.file.written"]


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/../../b", "x\u0000y"])
async def test_escaping_paths_are_refused(world, sandbox, path):
    response = await world.client.get(f"{_files(sandbox)}/content", params={"path": path})
    assert response.status_code == 400


@pytest.mark.local_runtime_only
async def test_symlinks_that_leave_are_refused(world, sandbox, tmp_path):
    secret = tmp_path / "server-secret.txt"
    secret.write_text("do not leak")
    sandbox_id = uuid.UUID(sandbox["id"])
    workspace = world.runtime.workspace(sandbox_id)
    os.symlink(secret, workspace / "leak")  # planted from inside, it would point anywhere
    os.symlink("/", workspace / "rootdir")
    base = _files(sandbox)
    for path in ("leak", "rootdir/etc/shadow", "rootdir"):
        response = await world.client.get(f"{base}/content", params={"path": path})
        assert response.status_code == 400, path
        assert "do not leak" not in response.text
    listing = await world.client.get(base, params={"path": "rootdir"})
    assert listing.status_code == 400
    write = await world.client.put(
        f"{base}/content", params={"path": "rootdir/tmp/x"}, content=b"x"
    )
    assert write.status_code == 400
    # Deleting the link removes the link, never its target.
    assert (await world.client.delete(base, params={"path": "leak"})).status_code == 204
    assert secret.read_text() == "do not leak"


async def test_missing_and_wrong_kinds(world, sandbox):
    base = _files(sandbox)
    missing = await world.client.get(f"{base}/content", params={"path": "nope.txt"})
    assert missing.status_code == 404
    await world.client.put(f"{base}/content", params={"path": "dir/file"}, content=b"x")
    as_file = await world.client.get(f"{base}/content", params={"path": "dir"})
    assert as_file.status_code == 400
    as_dir = await world.client.get(base, params={"path": "dir/file"})
    assert as_dir.status_code == 400
    workspace_itself = await world.client.delete(base, params={"path": ""})
    assert workspace_itself.status_code == 400
