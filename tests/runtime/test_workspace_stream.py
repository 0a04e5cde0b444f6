"""Streaming workspace files and directories out of a real sandbox, and matching globs:
never following a link, never blocking on a FIFO, never holding a whole file."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from backend.runtime.base import FileMissing, PathRefused, RuntimeFailure, WorkspaceStream
from backend.runtime.local import LocalRuntime
from tests.runtime.conftest import run, spec

MIB = 1 << 20


@pytest.fixture
async def box(local: LocalRuntime) -> uuid.UUID:
    sandbox = spec()
    assert (await local.ensure(sandbox)).phase == "running"
    return sandbox.sandbox_id


async def sh(local: LocalRuntime, box: uuid.UUID, script: str) -> str:
    """Run a script inside the sandbox, as its user would; fail the test if it fails."""
    code, out, err = await run(local, box, f"set -e; {script}")
    assert code == 0, err
    return out


async def chunks_of(stream: WorkspaceStream) -> list[bytes]:
    async with stream:
        return [chunk async for chunk in stream.chunks]


async def archive_of(
    local: LocalRuntime, box: uuid.UUID, path: str
) -> tuple[bytes, tarfile.TarFile]:
    """The raw tar (decompressed) and the archive opened for reading."""
    stream = await local.open_read(box, path)
    assert (stream.entry.type, stream.entry.size) == ("directory", 0)
    data = b"".join(await chunks_of(stream))
    return gzip.decompress(data), tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


# -- files ------------------------------------------------------------------------------


async def test_a_small_file_streams_as_written(local, box):
    await local.write_file(box, "notes/a.txt", b"hello\n")
    stream = await local.open_read(box, "notes/a.txt")
    assert (stream.entry.path, stream.entry.type, stream.entry.size) == ("notes/a.txt", "file", 6)
    assert b"".join(await chunks_of(stream)) == b"hello\n"


async def test_a_big_file_streams_in_chunks_of_at_most_a_mebibyte(local, box):
    out = await sh(local, box, "head -c 50M /dev/urandom > big.bin; sha256sum big.bin")
    stream = await local.open_read(box, "big.bin")
    assert stream.entry.size == 50 * MIB
    digest, count, largest = hashlib.sha256(), 0, 0
    async with stream:
        async for chunk in stream.chunks:  # hashed as it comes: never joined in memory here
            digest.update(chunk)
            count, largest = count + 1, max(largest, len(chunk))
    assert digest.hexdigest() == out.split()[0]
    assert largest <= MIB and count >= 50


# -- directories ------------------------------------------------------------------------

TREE = """
    mkdir -p out/sub out/empty
    printf report > out/report.txt
    printf deep > out/sub/deep.txt
    printf accent > out/sub/naïve.txt
    ln -s /etc/passwd out/passwd-link
    mkfifo out/pipe
"""


async def test_a_directory_is_a_tar_gz_of_its_tree(local, box, tmp_path):
    await sh(local, box, TREE)
    raw, archive = await archive_of(local, box, "out")
    names = {member.name for member in archive.getmembers()}
    assert names == {
        "out", "out/report.txt", "out/sub", "out/sub/deep.txt", "out/sub/naïve.txt",
        "out/empty", "out/passwd-link",
    }  # fmt: skip
    assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "") for m in archive)
    link = archive.getmember("out/passwd-link")
    assert link.issym() and link.linkname == "/etc/passwd"
    assert Path("/etc/passwd").read_bytes()[:40] not in raw  # stored as a link, not read
    archive.extractall(tmp_path, filter="tar")
    assert (tmp_path / "out/report.txt").read_bytes() == b"report"
    assert (tmp_path / "out/sub/deep.txt").read_bytes() == b"deep"
    assert (tmp_path / "out/sub/naïve.txt").read_bytes() == b"accent"
    assert (tmp_path / "out/empty").is_dir()
    assert os.readlink(tmp_path / "out/passwd-link") == "/etc/passwd"


async def test_the_workspace_itself_is_archived_as_workspace(local, box):
    await local.write_file(box, "top.txt", b"top")
    for path in ("", "."):
        _, archive = await archive_of(local, box, path)
        assert archive.getnames() == ["workspace", "workspace/top.txt"]


async def test_a_fifo_is_refused_without_hanging(local, box):
    await sh(local, box, "mkfifo pipe")  # nobody ever writes to it
    with pytest.raises(PathRefused):
        await asyncio.wait_for(local.open_read(box, "pipe"), 5)
    with pytest.raises(PathRefused):
        await asyncio.wait_for(local.read_file(box, "pipe", 100), 5)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "x\x00y"])
async def test_escaping_paths_are_refused(local, box, path):
    with pytest.raises(PathRefused):
        await local.open_read(box, path)


async def test_links_are_refused_whole_or_on_the_way(local, box):
    await sh(local, box, "ln -s /etc link; ln -s /etc/passwd pw")
    for path in ("link/passwd", "link", "pw"):
        with pytest.raises(PathRefused):
            await local.open_read(box, path)
    with pytest.raises(FileMissing):
        await local.open_read(box, "nope.txt")


async def settled_threads() -> int:
    """The thread count once helper threads of earlier steps (child watchers) are gone."""
    count = -1
    while count != threading.active_count():
        count = threading.active_count()
        await asyncio.sleep(0.1)
    return count


async def test_closing_mid_archive_stops_its_thread_promptly(local, box):
    # Random content does not compress: the archive is ~160 MiB, far more than is read.
    await sh(
        local, box, "mkdir big; for i in $(seq 40); do head -c 4M /dev/urandom > big/f$i; done"
    )
    await chunks_of(await local.open_read(box, "big/f1"))  # the worker threads exist now
    threads, fds = await settled_threads(), len(os.listdir("/proc/self/fd"))
    stream = await local.open_read(box, "big")
    assert len(await anext(stream.chunks)) == MIB
    await anext(stream.chunks)
    await asyncio.sleep(0.5)  # time to fill the queue: the producer now waits for room
    assert threading.active_count() == threads + 1
    started = time.monotonic()
    await asyncio.wait_for(stream.close(), 5)  # a producer left waiting would hang it
    assert time.monotonic() - started < 1.0
    assert await anext(stream.chunks, None) is None  # closed: the iteration is over
    deadline = time.monotonic() + 1.0
    while threading.active_count() > threads and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) == fds


async def test_nesting_deeper_than_the_walk_allows_is_refused(local, box):
    # Each level holds an fd while walking: a sandbox must not exhaust the server's.
    await sh(local, box, "mkdir -p deep/$(printf 'd/%.0s' $(seq 300))")
    with pytest.raises(RuntimeFailure, match="deeper than"):
        await chunks_of(await local.open_read(box, "deep"))
    with pytest.raises(PathRefused, match="deeper than"):
        await local.match_files(box, "deep/**", 10_000)
    assert len(await local.match_files(box, "deep/**", 5)) == 5  # the limit comes first


async def test_closing_a_file_stream_mid_way_ends_it(local, box):
    await sh(local, box, "head -c 3M /dev/zero > three.bin")
    stream = await local.open_read(box, "three.bin")
    assert len(await anext(stream.chunks)) == MIB
    await stream.close()
    assert await anext(stream.chunks, None) is None


# -- matching ---------------------------------------------------------------------------

GLOB_TREE = """
    mkdir -p out/a/b docs .hidden lib
    touch top.txt notes.txt docs/readme.txt out/x.log out/a/y.log out/a/b/z.log
    touch out/a/b/keep.txt .secret.txt .hidden/h.txt lib/real.txt
    ln -s lib linkdir
    ln -s notes.txt alias.txt
"""


@pytest.fixture
async def tree(local, box) -> uuid.UUID:
    await sh(local, box, GLOB_TREE)
    return box


async def matched(local: LocalRuntime, box: uuid.UUID, pattern: str, limit: int = 100):
    return [(entry.path, entry.type) for entry in await local.match_files(box, pattern, limit)]


async def test_a_star_stays_in_one_directory_and_skips_hidden_names(local, tree):
    assert await matched(local, tree, "*.txt") == [
        ("alias.txt", "symlink"), ("notes.txt", "file"), ("top.txt", "file")
    ]  # fmt: skip
    assert await matched(local, tree, "[nt]*.txt") == [("notes.txt", "file"), ("top.txt", "file")]


async def test_double_star_spans_zero_or_more_directories(local, tree):
    assert await matched(local, tree, "out/**/*.log") == [
        ("out/a/b/z.log", "file"), ("out/a/y.log", "file"), ("out/x.log", "file")
    ]  # fmt: skip
    assert await matched(local, tree, "**/top.txt") == [("top.txt", "file")]


async def test_double_star_alone_is_everything_visible_up_to_the_limit(local, tree):
    everything = await matched(local, tree, "**")
    assert ("lib/real.txt", "file") in everything and ("linkdir", "symlink") in everything
    assert not any(path.startswith("linkdir/") for path, _ in everything)  # not descended
    assert not any(".hidden" in path or ".secret" in path for path, _ in everything)
    assert everything[:3] == [
        ("alias.txt", "symlink"),
        ("docs", "directory"),
        ("docs/readme.txt", "file"),
    ]
    assert await matched(local, tree, "**", limit=3) == everything[:3]
    assert await matched(local, tree, "**", limit=0) == []


async def test_hidden_names_match_a_pattern_that_starts_with_a_dot(local, tree):
    assert await matched(local, tree, ".*") == [(".hidden", "directory"), (".secret.txt", "file")]
    assert await matched(local, tree, ".hidden/*") == [(".hidden/h.txt", "file")]


async def test_a_directory_matches_as_itself(local, tree):
    assert await matched(local, tree, "out/*") == [("out/a", "directory"), ("out/x.log", "file")]
    assert await matched(local, tree, "linkdir/*") == []  # a link to a directory is not a way


@pytest.mark.parametrize("pattern", ["/etc/*", "../*", "out/../../*", "x\x00*", ""])
async def test_escaping_patterns_are_refused(local, tree, pattern):
    with pytest.raises(PathRefused):
        await local.match_files(tree, pattern, 10)
