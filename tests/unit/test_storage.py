"""Blob stores: one behaviour, four real backends (SQLite, Postgres, a directory, S3 over
HTTP with moto). Each store gets a fresh key space: a new database, directory or prefix."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.db import Database
from backend.settings import load_settings
from backend.storage import S3_NOT_CONFIGURED, BlobStores
from backend.storage.base import CHUNK_BYTES, BlobMissing, BlobStore, StorageError
from backend.storage.database import DatabaseStore
from backend.storage.filesystem import FilesystemStore
from backend.storage.s3 import S3Store
from tests.support.s3 import S3Server

MiB = 1024 * 1024

# (store kind, database) pairs; the database is a cheap SQLite copy where it is not the store.
every_store = pytest.mark.parametrize(
    ("store_kind", "database_url"),
    [
        pytest.param("database", "sqlite", id="sqlite"),
        pytest.param("database", "postgres", id="postgres"),
        pytest.param("filesystem", "sqlite", id="filesystem"),
        pytest.param("s3", "sqlite", id="s3"),
    ],
    indirect=True,
)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(
    store_kind: str, database: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> BlobStore:
    if store_kind == "database":
        return DatabaseStore(database)
    if store_kind == "filesystem":
        return FilesystemStore(tmp_path / "blobs")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Store(s3_settings(server, tmp_path))


def s3_settings(server: S3Server, tmp_path: Path, **overrides: object):
    prefix = f"test-{uuid.uuid4().hex}/blobs"
    overrides = {**server.overrides, "artifact_content_s3_prefix": prefix, **overrides}
    return load_settings(data_dir=tmp_path, **overrides)


async def stream(data: bytes, piece: int = 100_003) -> AsyncIterator[bytes]:
    """Pieces of an odd size, so every store has to regroup them."""
    for offset in range(0, len(data), piece):
        yield data[offset : offset + piece]


async def failing(data: bytes) -> AsyncIterator[bytes]:
    async for piece in stream(data):
        yield piece
    raise RuntimeError("source broke")


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


def new_key() -> str:
    return f"{uuid.uuid4()}/{uuid.uuid4()}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the same behaviour everywhere ----------------------------------------------------------


@every_store
@pytest.mark.parametrize("size", [0, 10, 20 * MiB], ids=["empty", "small", "20MiB"])
async def test_round_trip(store: BlobStore, size: int):
    data, key = os.urandom(size), new_key()
    assert await store.write(key, stream(data)) == size
    assert await store.size(key) == size
    chunks = [chunk async for chunk in store.read(key)]
    assert sha(b"".join(chunks)) == sha(data)
    assert all(len(chunk) <= CHUNK_BYTES for chunk in chunks)  # streamed, never whole


@every_store
async def test_ranges(store: BlobStore):
    data, key = os.urandom(3 * CHUNK_BYTES + 123), new_key()
    await store.write(key, stream(data))
    last = len(data)
    for start, end in [
        (1000, None),  # start only
        (10, 20),
        (CHUNK_BYTES - 5, CHUNK_BYTES + 5),  # across a chunk boundary
        (CHUNK_BYTES, 3 * CHUNK_BYTES),  # whole chunks, aligned
        (last - 1, None),  # the last byte
        (last - 1, last),
        (last - 10, last + 100),  # an end past the blob is clamped
        (last, None),  # nothing left
        (5, 5),  # an empty range
    ]:
        assert await read_all(store, key, start, end) == data[start:end], (start, end)


@every_store
async def test_missing_blob(store: BlobStore):
    key = new_key()
    with pytest.raises(BlobMissing):
        await store.size(key)
    with pytest.raises(BlobMissing):
        await read_all(store, key)
    with pytest.raises(BlobMissing):
        await read_all(store, key, 10, 20)


@every_store
async def test_failed_source_leaves_nothing(store: BlobStore):
    key = new_key()
    with pytest.raises(RuntimeError, match="source broke"):
        await store.write(key, failing(os.urandom(17 * MiB)))  # S3: two parts uploaded
    await assert_nothing_left(store, key)


@every_store
async def test_delete_is_idempotent(store: BlobStore):
    key = new_key()
    await store.write(key, stream(b"bytes"))
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(BlobMissing):
        await store.size(key)


@every_store
async def test_cancelled_write_leaves_nothing(store: BlobStore):
    key, started = new_key(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield os.urandom(9 * MiB)  # S3: the first part is uploaded before the wait
        yield os.urandom(9 * MiB)
        started.set()
        await asyncio.sleep(60)
        yield b"never"

    writing = asyncio.create_task(store.write(key, slow()))
    await started.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    await assert_nothing_left(store, key)


async def assert_nothing_left(store: BlobStore, key: str) -> None:
    with pytest.raises(BlobMissing):
        await store.size(key)
    if isinstance(store, S3Store):  # no incomplete multipart upload either
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
        assert uploads.get("Uploads", []) == []
    if isinstance(store, FilesystemStore):  # no temp file either
        assert [path for path in store.root.rglob("*") if path.is_file()] == []


# -- the database store ---------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_database_commits_each_chunk_on_its_own(database: Database):
    """Mid-upload, the chunks so far are committed (visible to another session) and the
    SQLite write lock is free: a slow upload never blocks other writers."""
    store, key, paused, resume = (
        DatabaseStore(database),
        new_key(),
        asyncio.Event(),
        asyncio.Event(),
    )

    async def slow() -> AsyncIterator[bytes]:
        yield os.urandom(2 * CHUNK_BYTES + 1)
        paused.set()
        await resume.wait()

    writing = asyncio.create_task(store.write(key, slow()))
    await paused.wait()
    await asyncio.sleep(0.2)  # let the two full chunks land
    assert await database.call(chunk_lengths, key) == [CHUNK_BYTES, CHUNK_BYTES]
    if database.engine.dialect.name == "sqlite":
        other = sqlite3.connect(database.engine.url.database, timeout=1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # sqlite3.OperationalError if the lock were held
        other.execute("ROLLBACK")
        other.close()
    resume.set()
    assert await writing == 2 * CHUNK_BYTES + 1
    assert await database.call(chunk_lengths, key) == [CHUNK_BYTES, CHUNK_BYTES, 1]


def chunk_lengths(db, key: str) -> list[int]:
    rows = db.execute(
        sa.text("SELECT data FROM artifact_blob_chunks WHERE storage_key = :key ORDER BY seq"),
        {"key": key},
    )
    return [len(row[0]) for row in rows]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_database_empty_blob_is_one_empty_chunk(database: Database):
    store, key = DatabaseStore(database), new_key()
    await store.write(key, stream(b""))
    assert await database.call(chunk_lengths, key) == [0]
    assert await store.size(key) == 0


# -- the filesystem store -------------------------------------------------------------------


async def test_filesystem_files_are_private(tmp_path: Path):
    store, key = FilesystemStore(tmp_path / "blobs"), new_key()
    await store.write(key, stream(b"secret"))
    path = store.path(key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "blobs").stat().st_mode & 0o777 == 0o700
    await store.delete(key)
    assert not path.parent.exists()  # the emptied per-artifact directory goes too
    assert (tmp_path / "blobs").is_dir()


@pytest.mark.parametrize("key", ["../x", "/abs", "", "a/../../b", "a//b", "a/./b", "a b"])
async def test_filesystem_refuses_bad_keys(tmp_path: Path, key: str):
    store = FilesystemStore(tmp_path / "blobs")
    with pytest.raises(StorageError, match="invalid blob key"):
        await store.write(key, stream(b"x"))
    with pytest.raises(StorageError, match="invalid blob key"):
        await read_all(store, key)
    assert not (tmp_path / "x").exists()


async def test_filesystem_refuses_keys_through_symlinks(tmp_path: Path):
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "escape").symlink_to(tmp_path)
    store = FilesystemStore(tmp_path / "blobs")
    with pytest.raises(StorageError, match="outside the store"):
        await store.write("escape/x", stream(b"x"))
    assert not (tmp_path / "x").exists()


# -- the S3 store ---------------------------------------------------------------------------


def sent_urls(store: S3Store, stop: bool = False) -> list[str]:
    """URLs botocore sends, seen by a before-send hook; `stop` ends each request there
    (no DNS or server needed for host names that do not exist)."""
    urls: list[str] = []

    def record(request, **_):
        urls.append(request.url)
        if stop:
            raise Sent

    store.client.meta.events.register("before-send.s3", record)
    return urls


class Sent(Exception):
    pass


async def test_s3_path_style_round_trip(s3_server: S3Server, tmp_path: Path):
    store = S3Store(s3_settings(s3_server, tmp_path))
    urls, key = sent_urls(store), new_key()
    await store.write(key, stream(b"path style"))
    assert await read_all(store, key) == b"path style"
    expected = f"{s3_server.endpoint}/{s3_server.bucket}/{store.prefix}/{key}"
    assert urls and all(url.split("?")[0] == expected for url in urls)


@pytest.mark.parametrize(
    ("endpoint", "region", "url"),
    [
        ("http://s3.mbox.test:9000", "us-east-1", "http://bkt.s3.mbox.test:9000/p/a/b"),
        ("", "eu-west-1", "https://bkt.s3.eu-west-1.amazonaws.com/p/a/b"),  # empty: AWS
    ],
)
async def test_s3_virtual_host_style(tmp_path: Path, endpoint: str, region: str, url: str):
    settings = load_settings(
        data_dir=tmp_path,
        artifact_content_s3_endpoint=endpoint,
        artifact_content_s3_region=region,
        artifact_content_s3_bucket="bkt",
        artifact_content_s3_prefix="/p/",
        artifact_content_s3_access_key_id="testing",
        artifact_content_s3_secret_access_key="testing",
        artifact_content_s3_force_path_style=False,
    )
    store = S3Store(settings)
    urls = sent_urls(store, stop=True)
    with pytest.raises(Sent):
        await store.size("a/b")
    assert urls == [url]


async def test_s3_uses_the_standard_credential_chain(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    settings = s3_settings(
        s3_server,
        tmp_path,
        artifact_content_s3_access_key_id="",
        artifact_content_s3_secret_access_key="",
    )
    store, key = S3Store(settings), new_key()
    signed: list[str] = []
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: signed.append(str(request.headers["Authorization"]))
    )
    await store.write(key, stream(b"chained"))
    assert await read_all(store, key) == b"chained"
    assert signed and all("Credential=from-env/" in header for header in signed)


async def test_s3_errors_are_one_line_without_secrets(tmp_path: Path):
    settings = load_settings(
        data_dir=tmp_path,
        artifact_content_s3_endpoint="http://127.0.0.1:9",  # discard port: nothing listens
        artifact_content_s3_bucket="bkt",
        artifact_content_s3_access_key_id="AKIDSECRETISH",
        artifact_content_s3_secret_access_key="very-secret-value",
    )
    store = S3Store(settings)
    with pytest.raises(StorageError) as error:
        await store.size("a/b")
    message = str(error.value)
    assert "head_object a/b" in message and "\n" not in message
    assert "very-secret-value" not in message and "AKIDSECRETISH" not in message


@pytest.mark.parametrize("prefix", ["..", "a/../b", "./x"])
def test_s3_refuses_prefixes_that_climb(tmp_path: Path, prefix: str):
    settings = load_settings(
        data_dir=tmp_path, artifact_content_s3_bucket="bkt", artifact_content_s3_prefix=prefix
    )
    with pytest.raises(StorageError, match="invalid S3 key prefix"):
        S3Store(settings)


# -- BlobStores -----------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_content_stays_readable_after_the_backend_changes(
    database: Database, tmp_path: Path, s3_server: S3Server
):
    prefix = f"test-{uuid.uuid4().hex}"

    def stores(backend: str) -> BlobStores:
        settings = load_settings(
            data_dir=tmp_path,
            **s3_server.overrides,
            artifact_content_backend=backend,
            artifact_content_s3_prefix=prefix,
        )
        return BlobStores(settings, database)

    keys = {}
    for backend in ("postgres", "filesystem", "s3"):
        writer = stores(backend).writer
        assert writer.provider == backend
        keys[backend] = new_key()
        await writer.write(keys[backend], stream(backend.encode()))
    later = stores("s3")  # a server restarted with another backend reads all of it
    for provider, key in keys.items():
        assert await read_all(later.get(provider), key) == provider.encode()
    assert later.get("filesystem") is later.get("filesystem")  # built once


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_s3_content_without_a_bucket_is_refused(database: Database, tmp_path: Path):
    stores = BlobStores(load_settings(data_dir=tmp_path), database)
    assert stores.writer.provider == "postgres"
    with pytest.raises(StorageError) as error:
        stores.get("s3")
    assert str(error.value) == S3_NOT_CONFIGURED
    assert "MBOX_ARTIFACT_CONTENT_S3_*" in S3_NOT_CONFIGURED
