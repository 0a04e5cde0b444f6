"""envd's plain HTTP `/files`: download a file of the sandbox (GET) and upload files into
it (POST: multipart/form-data, one part per file, or a raw body with `?path=`).

Both stream: a download goes from the sandbox's `cat` to the client, an upload from the
request body, part by part, into the sandbox's `cat > path`. The server's memory stays
flat whatever the size (a request chunk and a few queued slices at a time).
"""

from __future__ import annotations

import asyncio
import posixpath
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.responses import download_headers
from backend.e2b.envd.caller import current_caller
from backend.errors import InvalidInput, ServiceError
from backend.sandboxes.filesystem import SandboxFilesystem
from backend.services import Services

MAX_PARTS = 100  # files in one upload (each is a command in the sandbox)
QUEUED_SLICES = 16  # of one part, between the request and the sandbox
GZIP_SLICE = 256 * 1024  # inflated at a time, whatever one compressed chunk holds


def files_app(services: Services) -> ASGIApp:
    """The `/files` endpoint (mounted by the E2B edge, which sets the caller)."""
    files = services.filesystem

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if request.method == "GET":
                response = await _download(files, request)
            elif request.method == "POST":
                response = await _upload(files, request)
            else:
                response = error(405, f"{request.method} is not allowed on /files")
        except ServiceError as exc:
            response = error(exc.status_code, exc.message)
        except ClientDisconnect:
            return
        await response(scope, receive, send)

    return app


def error(status: int, message: str) -> Response:
    """envd's error body."""
    return JSONResponse({"code": status, "message": message}, status_code=status)


async def _download(files: SandboxFilesystem, request: Request) -> Response:
    path = _path(request, required=True)
    caller = current_caller()
    chunks = await files.open_read(caller.principal, caller.sandbox_id, path)
    headers = download_headers(posixpath.basename(path.rstrip("/")) or "download")
    headers["Vary"] = "Accept-Encoding"
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        chunks = _gzipped(chunks)
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


async def _gzipped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Compressed as it streams (the fastest level: a download, not an archive)."""
    deflater = zlib.compressobj(1, wbits=31)
    try:
        async for chunk in chunks:
            if compressed := deflater.compress(chunk):
                yield compressed
        yield deflater.flush()
    finally:
        await chunks.aclose()


async def _upload(files: SandboxFilesystem, request: Request) -> Response:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise InvalidInput("a multipart body needs its boundary")
        written = await _MultipartUpload(files, request, boundary).run()
    else:
        path = _path(request, required=True)
        written = [await _write(files, path, _body(request))]
    if not written:
        raise InvalidInput("no file in the request: send a part named 'file'")
    return JSONResponse(written)


async def _write(files: SandboxFilesystem, path: str, chunks: AsyncIterator[bytes]) -> dict:
    caller = current_caller()
    entry = await files.write(caller.principal, caller.sandbox_id, path, chunks)
    return {"name": entry.name, "type": "file", "path": entry.path}


def _path(request: Request, *, required: bool) -> str:
    path = request.query_params.get("path", "")
    if required and not path:
        raise InvalidInput("the path query parameter is required", field="path")
    return path


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body, inflated when sent gzip-encoded."""
    if request.headers.get("content-encoding", "").strip().lower() != "gzip":
        async for chunk in request.stream():
            if chunk:
                yield chunk
        return
    inflater = zlib.decompressobj(wbits=31)
    try:
        async for chunk in request.stream():
            data = chunk
            while data:  # a bounded slice at a time: a small bomb never inflates at once
                yield inflater.decompress(data, GZIP_SLICE)
                data = inflater.unconsumed_tail
        if not inflater.eof:
            raise InvalidInput("the gzip body ended early")
    except zlib.error:
        raise InvalidInput("the body is not valid gzip") from None


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    queue: asyncio.Queue | None = None
    writing: asyncio.Task | None = None


class _MultipartUpload:
    """Parts parsed as the body streams in (python-multipart's push parser); each `file`
    part is written into the sandbox while it arrives, one part after the other."""

    def __init__(self, files: SandboxFilesystem, request: Request, boundary: bytes) -> None:
        self._files = files
        self._request = request
        self._events: list[tuple[str, bytes]] = []
        self._header = [b"", b""]
        self._part: _Part | None = None
        self._parts = 0
        self._written: list[dict] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self._events.append(("begin", b"")),
                "on_header_field": lambda d, s, e: self._events.append(("field", d[s:e])),
                "on_header_value": lambda d, s, e: self._events.append(("value", d[s:e])),
                "on_header_end": lambda: self._events.append(("header", b"")),
                "on_headers_finished": lambda: self._events.append(("headers", b"")),
                "on_part_data": lambda d, s, e: self._events.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self._events.append(("end", b"")),
            },
        )

    async def run(self) -> list[dict]:
        try:
            async for chunk in self._request.stream():
                self._parser.write(chunk)
                await self._handle()
            self._parser.finalize()
            await self._handle()
        except MultipartParseError as exc:
            self._abandon()
            raise InvalidInput(f"the multipart body could not be read: {exc}") from None
        except BaseException:
            self._abandon()
            raise
        if self._part is not None:
            self._abandon()
            raise InvalidInput("the multipart body ended inside a part")
        return self._written

    async def _handle(self) -> None:
        events, self._events = self._events, []
        for kind, data in events:
            if kind == "begin":
                self._part = _Part()
            elif kind == "field":
                self._header[0] += data
            elif kind == "value":
                self._header[1] += data
            elif kind == "header":
                self._part.headers[self._header[0].lower()] = self._header[1]
                self._header = [b"", b""]
            elif kind == "headers":
                self._start(self._part)
            elif kind == "data" and self._part.queue is not None:
                await self._feed(self._part, data)
            elif kind == "end":
                await self._finish(self._part)
                self._part = None

    def _start(self, part: _Part) -> None:
        """A `file` part begins: its write into the sandbox starts (other parts are
        skipped)."""
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        if options.get(b"name") != b"file":
            return
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidInput(f"at most {MAX_PARTS} files in one upload")
        path = _path(self._request, required=False)
        path = path or options.get(b"filename", b"").decode("utf-8", "replace")
        if not path:
            raise InvalidInput("a file part needs a filename (its path) or ?path=")
        part.queue = asyncio.Queue(QUEUED_SLICES)
        part.writing = asyncio.create_task(_write(self._files, path, _drained(part.queue)))

    async def _feed(self, part: _Part, data: bytes) -> None:
        if not await _put(part, data):  # the write ended (refused, failed) before its data
            await part.writing  # raises its error
            raise InvalidInput("the file's write ended before its data")

    async def _finish(self, part: _Part) -> None:
        if part.queue is None:
            return
        await _put(part, b"")
        self._written.append(await part.writing)

    def _abandon(self) -> None:
        if self._part is not None and self._part.writing is not None:
            self._part.writing.cancel()


async def _put(part: _Part, data: bytes) -> bool:
    """Queue a slice for the part's write, unless that write ended first."""
    put = asyncio.ensure_future(part.queue.put(data))
    await asyncio.wait({put, part.writing}, return_when=asyncio.FIRST_COMPLETED)
    if put.done():
        return True
    put.cancel()
    return False


async def _drained(queue: asyncio.Queue) -> AsyncIterator[bytes]:
    """A part's slices until the empty one that ends it."""
    while chunk := await queue.get():
        yield chunk
