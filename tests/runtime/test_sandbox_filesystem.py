"""A sandbox's whole filesystem (E2B's envd model) through commands inside it: on the
host's GNU tools and on an image that has only busybox; never the server's own files."""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from connectrpc.errors import ConnectError

from backend.auth.models import SYSTEM, Principal
from backend.e2b.envd import filesystem as envd
from backend.e2b.envd.caller import Caller, calling
from backend.e2b.envd.generated.filesystem import filesystem_pb as pb
from backend.errors import (
    Conflict,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    RuntimeFailed,
)
from backend.runtime import disk
from backend.sandboxes.filesystem import WATCH_INTERVAL, SandboxFilesystem
from tests.runtime.conftest import run
from tests.support.registry import ImageSpec, Registry, build_image, push, running_registry

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("fs-registry")) as running:
        yield running


@pytest.fixture(scope="module")
def busybox_image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    layout = build_image(
        tmp_path_factory.mktemp("fs-image") / "bb",
        ImageSpec(user="1234:1234", working_dir="/home/user", env={"HOME": "/home/user"}),
    )
    push(layout, registry, "fs-busybox", "1")
    return registry.ref("fs-busybox", "1")


@pytest.fixture(params=["host", "busybox"])
async def sandbox(request, world) -> uuid.UUID:
    image = "host" if request.param == "host" else request.getfixturevalue("busybox_image")
    sandbox = await world.running_sandbox(image=image)
    return uuid.UUID(sandbox["id"])


@pytest.fixture
def fs(world, database) -> SandboxFilesystem:
    return SandboxFilesystem(database, world.runtime)


async def chunks_of(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(fs: SandboxFilesystem, sandbox_id: uuid.UUID, path: str) -> bytes:
    return b"".join([chunk async for chunk in await fs.open_read(SYSTEM, sandbox_id, path)])


async def test_write_stat_list_move_remove(fs, sandbox, world):
    home = (await fs.stat(SYSTEM, sandbox, ".")).path
    written = await fs.write(SYSTEM, sandbox, "/tmp/a/b/c.txt", chunks_of(b"hello\n"))
    assert (written.name, written.type, written.path, written.size) == (
        "c.txt",
        "file",
        "/tmp/a/b/c.txt",
        6,
    )
    assert written.permissions == "-rw-r--r--" and written.mode == 0o644
    assert await read_all(fs, sandbox, "/tmp/a/b/c.txt") == b"hello\n"

    directory = await fs.make_dir(SYSTEM, sandbox, "/tmp/a/d/e")
    assert (directory.type, directory.path, directory.permissions) == (
        "directory",
        "/tmp/a/d/e",
        "drwxr-xr-x",
    )
    with pytest.raises(Conflict, match="already exists"):
        await fs.make_dir(SYSTEM, sandbox, "/tmp/a/d")

    one = await fs.list(SYSTEM, sandbox, "/tmp/a", 1)
    assert [(e.path, e.type) for e in one] == [("/tmp/a/b", "directory"), ("/tmp/a/d", "directory")]
    two = await fs.list(SYSTEM, sandbox, "/tmp/a", 2)
    assert [e.path for e in two] == ["/tmp/a/b", "/tmp/a/b/c.txt", "/tmp/a/d", "/tmp/a/d/e"]

    moved = await fs.move(SYSTEM, sandbox, "/tmp/a/b/c.txt", "/tmp/a/d/e/new name.txt")
    assert (moved.path, moved.size) == ("/tmp/a/d/e/new name.txt", 6)
    with pytest.raises(NotFound, match=r"path '/tmp/a/b/c\.txt' does not exist"):
        await fs.stat(SYSTEM, sandbox, "/tmp/a/b/c.txt")
    with pytest.raises(Conflict):  # onto a directory: refused, not moved into it
        await fs.move(SYSTEM, sandbox, "/tmp/a/d/e/new name.txt", "/tmp/a/b")

    # Relative paths are the user's HOME's; a symlink is itself, with its target.
    await fs.write(SYSTEM, sandbox, "rel.txt", chunks_of(b"x"))
    assert (await fs.stat(SYSTEM, sandbox, f"{home}/rel.txt")).size == 1
    await run(world.runtime, sandbox, "ln -s /tmp/a/d /tmp/a/link")
    link = await fs.stat(SYSTEM, sandbox, "/tmp/a/link")
    assert (link.type, link.symlink_target) == ("symlink", "/tmp/a/d")
    listed = {e.name: e for e in await fs.list(SYSTEM, sandbox, "/tmp/a", 1)}
    assert listed["link"].symlink_target == "/tmp/a/d" and listed["d"].symlink_target is None

    await fs.remove(SYSTEM, sandbox, "/tmp/a")
    with pytest.raises(NotFound):
        await fs.list(SYSTEM, sandbox, "/tmp/a", 1)
    with pytest.raises(NotFound):
        await fs.remove(SYSTEM, sandbox, "/tmp/a")
    with pytest.raises(NotFound):
        await fs.open_read(SYSTEM, sandbox, "/tmp/nothing")
    with pytest.raises(InvalidInput, match="is a directory"):
        await fs.open_read(SYSTEM, sandbox, "/tmp")
    with pytest.raises(InvalidInput, match="not a directory"):
        await fs.list(SYSTEM, sandbox, f"{home}/rel.txt", 1)

    actions = [
        e["action"] for e in (await world.get("/v1/audit-events", resourceId=str(sandbox)))["items"]
    ]
    assert actions.count("sandbox.file.written") >= 4 and "sandbox.file.deleted" in actions


async def test_five_megabytes_up_and_down(fs, sandbox):
    data = bytes(range(256)) * (FIVE_MB // 256)
    entry = await fs.write(SYSTEM, sandbox, "/tmp/big.bin", chunks_of(data))
    assert entry.size == FIVE_MB
    assert await read_all(fs, sandbox, "/tmp/big.bin") == data


async def test_a_write_over_the_cap_leaves_the_file_as_it_was(fs, sandbox, world):
    await fs.write(SYSTEM, sandbox, "/tmp/kept.txt", chunks_of(b"before"))
    fs.max_write_bytes = 100_000
    with pytest.raises(Exception, match="larger than 100000 bytes"):
        await fs.write(SYSTEM, sandbox, "/tmp/kept.txt", chunks_of(b"x" * 200_000, 10_000))
    assert await read_all(fs, sandbox, "/tmp/kept.txt") == b"before"
    await asyncio.sleep(0.5)  # the killed upload's hidden file is removed in the background
    assert [e.name for e in await fs.list(SYSTEM, sandbox, "/tmp", 1)].count("kept.txt") == 1
    assert not [e for e in await fs.list(SYSTEM, sandbox, "/tmp", 1) if "upload" in e.name]


async def test_watch_sees_create_write_remove(fs, sandbox, world):
    await fs.make_dir(SYSTEM, sandbox, "/tmp/watched")
    changes = await fs.watch(SYSTEM, sandbox, "/tmp/watched", recursive=True)
    await run(world.runtime, sandbox, "mkdir /tmp/watched/sub && echo 1 > /tmp/watched/sub/f")
    seen = await anext(changes)
    assert {(e.name, e.type) for e in seen} == {("sub", "create"), ("sub/f", "create")}
    await run(world.runtime, sandbox, "echo 12345 > /tmp/watched/sub/f")
    assert ("sub/f", "write") in {(e.name, e.type) for e in await anext(changes)}
    await run(world.runtime, sandbox, "rm -r /tmp/watched/sub")
    assert {(e.name, e.type) for e in await anext(changes)} == {
        ("sub", "remove"),
        ("sub/f", "remove"),
    }
    await changes.aclose()


# -- attacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["host"])
async def test_the_servers_files_are_not_reachable(fs, world, settings, tmp_path, image):
    """Paths are the sandbox's own: the server's data dir, by its host path, through
    /proc/1/root, `..` or a symlink the sandbox made, is simply not there."""
    sandbox = uuid.UUID((await world.running_sandbox(image=image))["id"])
    marker = Path(settings.data_dir) / "marker-secret"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("server secret")
    host_path = str(marker.resolve())
    await run(world.runtime, sandbox, f"ln -s {host_path} /tmp/to-host")
    for path in (
        host_path,
        f"/proc/1/root{host_path}",
        f"/proc/self/root{host_path}",
        f"/tmp/../..{host_path}",
        f"../../../../../..{host_path}",
        "/tmp/to-host",
    ):
        with pytest.raises(NotFound):
            await read_all(fs, sandbox, path)
    for path in (host_path, str(tmp_path)):
        with pytest.raises(NotFound):
            await fs.stat(SYSTEM, sandbox, path)
    # Writing there writes inside the sandbox, never on the host.
    await fs.write(SYSTEM, sandbox, f"/tmp{host_path}", chunks_of(b"sandbox"))
    assert marker.read_text() == "server secret"


async def test_a_flooding_sh_is_cut_off(fs, world):
    """The sandbox owns the `sh` the commands run (here: first on its PATH): an endless
    answer is cut at the bound and the command killed, in bounded time."""
    sandbox = uuid.UUID((await world.running_sandbox(env={"PATH": "/tmp/bin:/usr/bin:/bin"}))["id"])
    await run(
        world.runtime,
        sandbox,
        "mkdir -p /tmp/bin && printf '#!/bin/bash\\nexec yes flood\\n' > /tmp/bin/sh"
        " && chmod +x /tmp/bin/sh",
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(RuntimeFailed, match="too much output"):
        await fs.stat(SYSTEM, sandbox, "/tmp")
    with pytest.raises(RuntimeFailed, match="too much output"):
        await fs.list(SYSTEM, sandbox, "/tmp", 1)
    assert asyncio.get_running_loop().time() - started < 20


async def zeros(total: int, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    chunk = bytes(size)
    for _ in range(total // size):
        yield chunk


@pytest.mark.skipif(not disk.supported(), reason="a sandbox's own disk needs root")
async def test_a_full_disk_is_insufficient_storage_and_leaves_nothing(fs, world):
    sandbox = uuid.UUID((await world.running_sandbox(storageRequest="64Mi"))["id"])
    with pytest.raises(InsufficientStorage):
        await fs.write(SYSTEM, sandbox, "big.bin", zeros(80 * 1024 * 1024))
    assert [e.name for e in await fs.list(SYSTEM, sandbox, ".", 1)] == []
    assert (await fs.write(SYSTEM, sandbox, "small.txt", chunks_of(b"room again"))).size == 10


async def test_memory_stays_flat_for_big_files(fs, world):
    """32 MiB up and down: the server holds a few chunks at a time, not the file."""
    sandbox = uuid.UUID((await world.running_sandbox())["id"])
    total = 32 * 1024 * 1024
    tracemalloc.start()
    try:
        await fs.write(SYSTEM, sandbox, "/tmp/big", zeros(total, 256 * 1024))
        read = 0
        async for chunk in await fs.open_read(SYSTEM, sandbox, "/tmp/big"):
            read += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == total
    assert peak < 4 * 1024 * 1024, peak


async def test_a_file_where_a_parent_should_be_is_bad_input(fs, world):
    sandbox = uuid.UUID((await world.running_sandbox())["id"])
    await fs.write(SYSTEM, sandbox, "/tmp/plain", chunks_of(b"x"))
    with pytest.raises(InvalidInput, match="not a directory"):
        await fs.make_dir(SYSTEM, sandbox, "/tmp/plain/sub")
    with pytest.raises(InvalidInput, match="not a directory"):
        await fs.write(SYSTEM, sandbox, "/tmp/plain/sub/f", chunks_of(b"x"))
    with pytest.raises(InvalidInput, match="not a directory"):
        await fs.move(SYSTEM, sandbox, "/tmp/plain", "/tmp/plain/inside")
    with pytest.raises(InvalidInput, match="NUL"):
        await fs.stat(SYSTEM, sandbox, "/tmp/a\x00b")
    with pytest.raises(InvalidInput, match="depth"):
        await fs.list(SYSTEM, sandbox, "/tmp", 0)


async def test_a_viewer_reads_but_never_changes(fs, world):
    sandbox = await world.running_sandbox()
    viewer = Principal(
        subject="fs-viewer", role="viewer", projects=frozenset({uuid.UUID(sandbox["projectId"])})
    )
    outsider = Principal(subject="fs-outsider", role="admin", projects=frozenset())
    sandbox_id = uuid.UUID(sandbox["id"])
    await fs.write(SYSTEM, sandbox_id, "/tmp/seen.txt", chunks_of(b"seen"))
    assert await read_all_as(fs, viewer, sandbox_id, "/tmp/seen.txt") == b"seen"
    with pytest.raises(Forbidden):
        await fs.write(viewer, sandbox_id, "/tmp/seen.txt", chunks_of(b"changed"))
    for change in (
        fs.make_dir(viewer, sandbox_id, "/tmp/d"),
        fs.remove(viewer, sandbox_id, "/tmp/seen.txt"),
        fs.move(viewer, sandbox_id, "/tmp/seen.txt", "/tmp/moved.txt"),
    ):
        with pytest.raises(Forbidden):
            await change
    with pytest.raises(NotFound):  # another project's sandbox is not there at all
        await fs.stat(outsider, sandbox_id, "/tmp")
    assert await read_all(fs, sandbox_id, "/tmp/seen.txt") == b"seen"


async def read_all_as(fs, principal, sandbox_id, path) -> bytes:
    return b"".join([chunk async for chunk in await fs.open_read(principal, sandbox_id, path)])


@pytest.mark.both_runtimes
async def test_the_basics_on_either_runtime(fs, world):
    sandbox = uuid.UUID((await world.running_sandbox())["id"])
    data = bytes(range(256)) * (FIVE_MB // 256)
    assert (await fs.write(SYSTEM, sandbox, "/tmp/k/big.bin", chunks_of(data))).size == FIVE_MB
    assert await read_all(fs, sandbox, "/tmp/k/big.bin") == data
    await fs.make_dir(SYSTEM, sandbox, "/tmp/k/d")
    moved = await fs.move(SYSTEM, sandbox, "/tmp/k/big.bin", "/tmp/k/d/big.bin")
    assert moved.path == "/tmp/k/d/big.bin"
    listed = await fs.list(SYSTEM, sandbox, "/tmp/k", 2)
    assert [(e.path, e.type) for e in listed] == [
        ("/tmp/k/d", "directory"),
        ("/tmp/k/d/big.bin", "file"),
    ]
    await fs.remove(SYSTEM, sandbox, "/tmp/k")
    with pytest.raises(NotFound):
        await fs.stat(SYSTEM, sandbox, "/tmp/k")


async def test_polling_watchers_are_bounded_and_each_sandbox_sees_only_its_own(fs, world):
    """envd's CreateWatcher/GetWatcherEvents/RemoveWatcher: at most a few per sandbox, and a
    watcher id is nothing to another sandbox's caller."""
    one = uuid.UUID((await world.running_sandbox())["id"])
    two = uuid.UUID((await world.running_sandbox())["id"])
    service = envd.EnvdFilesystem(fs)

    async def create() -> str:
        return (await service.create_watcher(pb.CreateWatcherRequest(path="/tmp"), None)).watcher_id

    async def events(watcher_id: str) -> list:
        request = pb.GetWatcherEventsRequest(watcher_id=watcher_id)
        return [(e.name, e.type) for e in (await service.get_watcher_events(request, None)).events]

    try:
        with calling(Caller(SYSTEM, one)):
            ids = [await create() for _ in range(envd.MAX_WATCHERS_PER_SANDBOX)]
            with pytest.raises(ConnectError, match="at most"):
                await create()
            await run(world.runtime, one, "touch /tmp/seen")
            await asyncio.sleep(3 * WATCH_INTERVAL)
            assert await events(ids[0]) == [("seen", pb.EventType.CREATE)]
        with calling(Caller(SYSTEM, two)):
            with pytest.raises(ConnectError, match="does not exist"):
                await events(ids[0])
            with pytest.raises(ConnectError, match="does not exist"):
                await service.remove_watcher(pb.RemoveWatcherRequest(watcher_id=ids[0]), None)
            await create()  # its own count
        with calling(Caller(SYSTEM, one)):
            await service.remove_watcher(pb.RemoveWatcherRequest(watcher_id=ids[0]), None)
            await create()
    finally:
        service.close()
