"""Blobs as objects in an S3-compatible bucket (AWS, MinIO, Ceph, ...). The only module
that imports boto3. boto3 blocks, so every call runs in a worker thread.

A blob that fits in one 8 MiB part is one PUT; a larger one is a multipart upload, aborted
on any failure so that no object and no incomplete upload is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backend.storage import settled
from backend.storage.base import CHUNK_BYTES, BlobMissing, StorageError, rechunk

if TYPE_CHECKING:
    from backend.settings import Settings

T = TypeVar("T")
PART_BYTES = 8 * 1024 * 1024  # S3 parts are 5 MiB..5 GiB; 10,000 parts of 8 MiB > 64 GiB
MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    provider = "s3"

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.artifact_content_s3_bucket
        self.prefix = clean_prefix(settings.artifact_content_s3_prefix)
        self.client = _client(settings)

    def name(self, key: str) -> str:
        """The object key: `<prefix>/<key>`."""
        return f"{self.prefix}/{key}" if self.prefix else key

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        parts = rechunk(chunks, PART_BYTES)
        first = await anext(parts, b"")
        second = await anext(parts, None)
        if second is None:  # fits in one part: one PUT, atomic by nature
            await self._call("put_object", key, Body=first)
            return len(first)
        return await self._multipart(key, [first, second], parts)

    async def _multipart(self, key: str, head: list[bytes], rest: AsyncIterator[bytes]) -> int:
        upload_id = (await self._call("create_multipart_upload", key))["UploadId"]
        done: list[dict[str, Any]] = []
        total = 0
        try:
            while head:  # popped, so that a sent part is not kept for the whole upload
                body = head.pop(0)
                done.append(await self._part(key, upload_id, len(done) + 1, body))
                total += len(body)
            async for body in rest:
                done.append(await self._part(key, upload_id, len(done) + 1, body))
                total += len(body)
            parts = {"Parts": done}
            await self._call(
                "complete_multipart_upload", key, UploadId=upload_id, MultipartUpload=parts
            )
        except BaseException:
            await self._abort(key, upload_id)
            raise
        return total

    async def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        part = await self._call(
            "upload_part", key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": part["ETag"], "PartNumber": number}

    async def _abort(self, key: str, upload_id: str) -> None:
        """Best effort; an upload this leaves behind is for a bucket lifecycle rule
        (AbortIncompleteMultipartUpload) to remove."""
        with contextlib.suppress(StorageError):
            await self._call("abort_multipart_upload", key, UploadId=upload_id)

    async def size(self, key: str) -> int:
        return int((await self._call("head_object", key))["ContentLength"])

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            await self.size(key)  # an empty range, but a missing blob is still missing
            return
        params: dict[str, str] = {}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = (await self._call("get_object", key, **params))["Body"]
        except _InvalidRange:  # the range starts at or past the end of the blob
            return
        try:
            while data := await _run(f"get_object {key}", body.read, CHUNK_BYTES):
                yield data
        finally:
            body.close()  # also when the consumer stops early: the connection is not reused

    async def delete(self, key: str) -> None:
        await self._call("delete_object", key)

    async def _call(self, operation: str, key: str, **params: Any) -> Any:
        method = getattr(self.client, operation)
        call = functools.partial(method, Bucket=self.bucket, Key=self.name(key), **params)
        return await _run(f"{operation} {key}", call)


class _InvalidRange(StorageError):
    pass


async def _run(what: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a boto3 call in a worker thread; its errors become BlobMissing or a one-line
    StorageError naming the call and the reason (botocore never puts secrets there)."""
    try:
        return await settled(asyncio.to_thread(fn, *args))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "error")
        if code in MISSING:
            raise BlobMissing(f"s3 {what}: no such blob") from None
        kind = _InvalidRange if code == "InvalidRange" else StorageError
        raise kind(_line(f"s3 {what}: {code} {error.get('Message', '')}")) from None
    except BotoCoreError as exc:
        raise StorageError(_line(f"s3 {what}: {exc}")) from None


def clean_prefix(prefix: str) -> str:
    """The key prefix without surrounding or doubled slashes; '..' is refused."""
    parts = [part for part in prefix.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise StorageError(f"invalid S3 key prefix {prefix!r}")
    return "/".join(parts)


def _client(settings: Settings) -> Any:
    """One client for the store's lifetime (boto3 clients are thread-safe; creating one
    is slow). Explicit keys when configured, otherwise boto3's standard credential chain
    (environment, profile, web identity, instance or task role)."""
    addressing = "path" if settings.artifact_content_s3_force_path_style else "virtual"
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing},
        retries={"mode": "standard"},
        # Many S3-compatible stores reject the CRC checksums botocore >= 1.36 adds to
        # every upload by default; the content layer verifies SHA-256 itself.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    keys: dict[str, str] = {}
    if settings.artifact_content_s3_access_key_id:
        keys = {
            "aws_access_key_id": settings.artifact_content_s3_access_key_id,
            "aws_secret_access_key": settings.artifact_content_s3_secret_access_key,
        }
    try:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=settings.artifact_content_s3_endpoint or None,
            region_name=settings.artifact_content_s3_region or None,
            config=config,
            **keys,
        )
    except (BotoCoreError, ValueError) as exc:
        raise StorageError(_line(f"s3 client: {exc}")) from None


def _line(message: str) -> str:
    return " ".join(message.split())
