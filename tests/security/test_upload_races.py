"""Attack: a sandbox plants a FIFO or a symlink where the server writes an upload into its
workspace (the upload's temp file was `.<name>.mbox-upload`, next to the target, opened
without O_EXCL): opening a FIFO for writing waits for a reader forever, so every upload
holds a server thread until the pool is gone; a symlink could lead the write (as root)
outside the workspace. Stopped by: the temp file has a random name and is created with
O_CREAT|O_EXCL|O_NOFOLLOW|O_NONBLOCK (a planted entry can never be opened in its place);
the target is replaced by rename, which never follows what it replaces; directories are
walked with O_NOFOLLOW|O_DIRECTORY (a FIFO or link there is a fast 400)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import uuid

import pytest

from tests.runtime.conftest import run


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """The workspace does not depend on the database: SQLite only."""
    target = tmp_path / "mbox.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


async def _put(world, sandbox: dict, path: str, data: bytes, fifos: list) -> int:
    """PUT a file; fail (after unblocking any thread stuck on a planted FIFO) if it takes
    more than a few seconds."""
    url = f"/v1/sandboxes/{sandbox['id']}/files/content"
    try:
        response = await asyncio.wait_for(
            world.client.put(url, params={"path": path}, content=data), 5
        )
    except TimeoutError:
        for fifo in fifos:  # a reader releases the blocked writer, so the test can end
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        pytest.fail(f"the upload of {path} blocked on a planted FIFO")
    assert response.status_code < 500, response.text
    return response.status_code


async def test_planted_fifos_and_links_do_not_block_or_escape(world, tmp_path):
    sandbox = await world.running_sandbox()
    sandbox_id = uuid.UUID(sandbox["id"])
    workspace = world.runtime.workspace(sandbox_id)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    # Planted from inside the sandbox, as its own user: FIFOs and links at every path the
    # server writes (old temp names, targets, directories on the way).
    code, _, err = await run(
        world.runtime,
        sandbox_id,
        f"""
        set -e
        mkfifo .a.txt.mbox-upload
        ln -s {outside} .b.txt.mbox-upload
        mkfifo c.txt
        ln -s {outside} d.txt
        mkfifo sub
        ln -s {outside_dir} linked
        mkdir deep && mkfifo deep/.e.txt.mbox-upload && ln -s {outside} deep/e.txt
        """,
    )
    assert code == 0, err
    fifos = [workspace / name for name in (".a.txt.mbox-upload", "c.txt", "sub")]
    fifos.append(workspace / "deep" / ".e.txt.mbox-upload")

    started = asyncio.get_running_loop().time()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "deep/e.txt"):
        assert await _put(world, sandbox, name, name.encode(), fifos) == 204, name
        written = workspace / name
        info = os.lstat(written)
        assert stat.S_ISREG(info.st_mode), name  # the planted entry was replaced
        assert written.read_bytes() == name.encode()
    for name in ("sub/f.txt", "linked/f.txt"):
        assert await _put(world, sandbox, name, b"x", fifos) == 400, name
    assert asyncio.get_running_loop().time() - started < 5

    assert outside.read_text() == "untouched"
    assert list(outside_dir.iterdir()) == []
    # No temp file is left behind.
    leftovers = [
        p.name for p in workspace.rglob("*mbox-upload*") if stat.S_ISREG(p.lstat().st_mode)
    ]
    assert leftovers == []


async def test_uploads_keep_working_after_an_attack(world):
    """The server's threads are not spent: many uploads with planted FIFOs in the way all
    finish, and a normal upload afterwards too."""
    sandbox = await world.running_sandbox()
    sandbox_id = uuid.UUID(sandbox["id"])
    code, _, err = await run(
        world.runtime, sandbox_id, "for i in $(seq 40); do mkfifo .f$i.mbox-upload; done"
    )
    assert code == 0, err
    fifos = [world.runtime.workspace(sandbox_id) / f".f{i}.mbox-upload" for i in range(1, 41)]
    results = await asyncio.gather(
        *(_put(world, sandbox, f"f{i}", b"data", fifos) for i in range(1, 41))
    )
    assert set(results) == {204}
    assert await _put(world, sandbox, "after.txt", b"fine", fifos) == 204
