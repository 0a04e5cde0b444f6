"""A sandbox's files through the unmodified `e2b` SDK: envd's /files and Filesystem."""

from __future__ import annotations

import asyncio
import io
import os
import time

import httpx
import pytest
from e2b import AsyncSandbox, FileType, Sandbox
from e2b.exceptions import InvalidArgumentException, NotFoundException
from e2b.sandbox.filesystem.watch_handle import FilesystemEventType

from tests.e2b.conftest import E2BProject

FIVE_MB = 5 * 1024 * 1024


def test_write_read_list_exists_make_dir_rename_remove(sandbox: Sandbox) -> None:
    files = sandbox.files
    info = files.write("/tmp/demo/hello.txt", "hello\n")
    assert (info.name, info.path, info.type) == ("hello.txt", "/tmp/demo/hello.txt", FileType.FILE)
    assert files.read("/tmp/demo/hello.txt") == "hello\n"
    assert files.read("/tmp/demo/hello.txt", format="bytes") == bytearray(b"hello\n")
    assert files.read("/tmp/demo/hello.txt", gzip=True) == "hello\n"
    assert sandbox.commands.run("cat /tmp/demo/hello.txt").stdout == "hello\n"

    assert files.exists("/tmp/demo/hello.txt") and not files.exists("/tmp/demo/nope")
    assert files.make_dir("/tmp/demo/sub/deeper") is True
    assert files.make_dir("/tmp/demo/sub") is False  # it exists
    entries = files.list("/tmp/demo", depth=2)
    assert [(e.path, e.type) for e in entries] == [
        ("/tmp/demo/hello.txt", FileType.FILE),
        ("/tmp/demo/sub", FileType.DIR),
        ("/tmp/demo/sub/deeper", FileType.DIR),
    ]
    stat = files.get_info("/tmp/demo/hello.txt")
    assert (stat.size, stat.permissions, stat.mode) == (6, "-rw-r--r--", 0o644)
    assert stat.modified_time.year >= 2024

    moved = files.rename("/tmp/demo/hello.txt", "/tmp/demo/sub/renamed.txt")
    assert moved.path == "/tmp/demo/sub/renamed.txt"
    assert not files.exists("/tmp/demo/hello.txt")
    files.remove("/tmp/demo/sub")
    assert [e.name for e in files.list("/tmp/demo")] == []

    with pytest.raises(NotFoundException):
        files.read("/tmp/demo/gone.txt")
    with pytest.raises(NotFoundException):
        files.get_info("/tmp/demo/gone.txt")
    with pytest.raises(InvalidArgumentException):
        files.read("/tmp/demo")  # a directory


def test_relative_paths_several_files_and_raw_uploads(sandbox: Sandbox) -> None:
    files = sandbox.files
    home = sandbox.commands.run("printf %s $HOME").stdout
    written = files.write_files(
        [{"path": "one.txt", "data": "1"}, {"path": "/tmp/two.bin", "data": b"\x00\x02"}]
    )
    assert [w.path for w in written] == [f"{home}/one.txt", "/tmp/two.bin"]
    assert files.read(f"{home}/one.txt") == "1"
    assert files.read("/tmp/two.bin", format="bytes") == bytearray(b"\x00\x02")
    # A file-like body and gzip travel as application/octet-stream (envd >= 0.5.7).
    files.write("/tmp/raw.txt", io.BytesIO(b"raw body"))
    files.write("/tmp/zipped.txt", "zipped " * 1000, gzip=True)
    assert files.read("/tmp/raw.txt") == "raw body"
    assert files.read("/tmp/zipped.txt") == "zipped " * 1000


def test_five_megabytes_up_and_down(sandbox: Sandbox) -> None:
    data = bytes(range(256)) * (FIVE_MB // 256)
    info = sandbox.files.write("/tmp/big.bin", data)
    assert info.path == "/tmp/big.bin"
    assert sandbox.files.get_info("/tmp/big.bin").size == FIVE_MB
    assert bytes(sandbox.files.read("/tmp/big.bin", format="bytes")) == data
    streamed = b"".join(sandbox.files.read("/tmp/big.bin", format="stream"))
    assert streamed == data


def test_polling_watcher(sandbox: Sandbox) -> None:
    sandbox.files.make_dir("/tmp/watched")
    handle = sandbox.files.watch_dir("/tmp/watched", recursive=True)
    sandbox.files.write("/tmp/watched/new.txt", "x")
    events = []
    for _ in range(20):
        events += handle.get_new_events()
        if events:
            break
        time.sleep(0.3)
    handle.stop()
    assert [(e.name, e.type) for e in events] == [("new.txt", FilesystemEventType.CREATE)]


@pytest.mark.asyncio
async def test_async_files_and_a_streamed_watch(e2b_env: E2BProject) -> None:
    sb = await AsyncSandbox.create(template=e2b_env.template, timeout=120)
    try:
        await sb.files.make_dir("/tmp/w")
        seen = []
        handle = await sb.files.watch_dir("/tmp/w", on_event=seen.append)
        await sb.files.write("/tmp/w/a.txt", "async")
        assert await sb.files.read("/tmp/w/a.txt") == "async"
        for _ in range(30):
            if seen:
                break
            await asyncio.sleep(0.2)
        await handle.stop()
        assert ("a.txt", FilesystemEventType.CREATE) in [(e.name, e.type) for e in seen]
        assert [e.name for e in await sb.files.list("/tmp/w")] == ["a.txt"]
    finally:
        await sb.kill()


def test_envd_refusals_are_json_in_envds_shape(sandbox: Sandbox, e2b_env: E2BProject) -> None:
    headers = {"E2b-Sandbox-Id": sandbox.sandbox_id, "X-Access-Token": sandbox._envd_access_token}
    with httpx.Client(base_url=os.environ["E2B_SANDBOX_URL"], headers=headers) as client:
        missing = client.get("/files", params={"path": "/tmp/nope"})
        assert missing.status_code == 404
        assert missing.json() == {"code": 404, "message": "path '/tmp/nope' does not exist"}
        assert client.get("/files").json()["code"] == 400  # no path
        raw = {"Content-Type": "application/octet-stream"}
        assert client.post("/files", content=b"x", headers=raw).status_code == 400  # no path
        bad_gzip = client.post(
            "/files", params={"path": "/tmp/g"}, content=b"nope",
            headers={**raw, "Content-Encoding": "gzip"},
        )  # fmt: skip
        assert bad_gzip.status_code == 400 and not sandbox.files.exists("/tmp/g")
        broken = client.post(
            "/files", content=b"--b\r\nnot a part",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )  # fmt: skip
        assert broken.status_code == 400, broken.text
        stat = client.post("/filesystem.Filesystem/Stat", json={"path": "/nope"})
        assert stat.status_code == 404
        assert stat.json() == {"code": "not_found", "message": "path '/nope' does not exist"}
        tmp = client.post("/filesystem.Filesystem/Stat", json={"path": "/tmp"}).json()["entry"]
        assert tmp["type"] == "FILE_TYPE_DIRECTORY" and tmp["size"] == "4096"  # int64: text
        assert tmp["path"] == "/tmp" and tmp["modifiedTime"].endswith("Z")
        assert tmp["permissions"] == "drwx------" and tmp["mode"] == 0o700  # private /tmp
