# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.
"""`AsyncSandbox`: one sandbox as an object, with what can be done in it grouped by kind:
`sb.tasks`, `sb.code`, `sb.files`, `sb.terminal`, `sb.ports`, `sb.artifacts`, `sb.sessions`."""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mbox import _io, models
from mbox._sync.code import Execution
from mbox._sync.terminal import Terminal
from mbox.errors import ApiError, NotFoundError, SandboxFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from mbox._sync.client import Mbox

CHUNK = 1024 * 1024
MAX_SERVER_WAIT = 30.0  # seconds one long-poll for a sandbox change may take


@dataclass(frozen=True)
class Progress:
    """Where a sandbox is on its way: status and the runtime's reason and message (the
    phase: scheduling, pulling, starting...)."""

    status: str
    reason: str
    message: str
    sandbox: models.Sandbox

    @classmethod
    def of(cls, sandbox: models.Sandbox) -> Progress:
        return cls(
            sandbox.status, sandbox.status_reason or "", sandbox.status_message or "", sandbox
        )

    def __str__(self) -> str:
        detail = ": ".join(part for part in (self.reason, self.message) if part)
        return f"{self.status} ({detail})" if detail else self.status


class Sandbox:
    def __init__(self, client: Mbox, info: models.Sandbox, *, keep: bool = False) -> None:
        self.client = client
        self.info = info
        self.keep = keep
        self.tasks = SandboxTasks(self)
        self.code = SandboxCode(self)
        self.files = SandboxFiles(self)
        self.terminal = SandboxTerminal(self)
        self.ports = SandboxPorts(self)
        self.artifacts = SandboxArtifacts(self)
        self.sessions = SandboxSessions(self)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> str:
        return self.info.status

    def __repr__(self) -> str:
        return f"<Sandbox {self.info.slug} {self.id} {self.status}>"

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.keep:
            with contextlib.suppress(NotFoundError):
                self.delete()

    def refresh(self) -> models.Sandbox:
        self.info = self.client.sandboxes.info(self.id)
        return self.info

    def wait_until(
        self,
        status: str = "running",
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
    ) -> models.Sandbox:
        """Until the sandbox is `status`; each change is reported to `on_progress`. A
        sandbox that fails (or stops, or goes away) first raises SandboxFailedError."""
        limit = self.client.wait_timeout if timeout is None else timeout
        deadline = _io.monotonic() + limit
        while self.info.status != status:
            self._check_not_ended(status)
            remaining = deadline - _io.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"sandbox {self.id} is still {Progress.of(self.info)} after {limit:g} s"
                )
            before = self.info
            started = _io.monotonic()
            self.info = self.client.sandboxes.info(
                self.id, wait=min(remaining, MAX_SERVER_WAIT), after=before.raw.get("updatedAt")
            )
            if self.info.raw != before.raw:
                if on_progress is not None:
                    on_progress(Progress.of(self.info))
            elif _io.monotonic() - started < 0.05:
                _io.sleep(0.1)  # a server that does not hold the request: do not spin
        return self.info

    def _check_not_ended(self, wanted: str) -> None:
        status = self.info.status
        if status in ("failed", "deleted") or (status == "stopped" and wanted != "stopped"):
            raise SandboxFailedError(
                f"sandbox {self.id} is {Progress.of(self.info)}, not {wanted}", self.info
            )

    def start(self, *, wait: bool = True, timeout: float | None = None) -> models.Sandbox:
        self.info = self.client.sandboxes.start(self.id)
        if wait:
            self.wait_until("running", timeout=timeout)
        return self.info

    def stop(self, *, wait: bool = False, timeout: float | None = None) -> models.Sandbox:
        self.info = self.client.sandboxes.stop(self.id)
        if wait:
            self.wait_until("stopped", timeout=timeout)
        return self.info

    def renew(self, *, ttl_seconds: int | None = None) -> models.Sandbox:
        self.info = self.client.sandboxes.renew(self.id, ttl_seconds=ttl_seconds)
        return self.info

    def update(self, **changes: Any) -> models.Sandbox:
        self.info = self.client.sandboxes.update(self.id, **changes)
        return self.info

    def delete(self) -> None:
        self.client.sandboxes.delete(self.id)

    def boundary(self) -> models.BoundarySummary:
        return self.client.sandboxes.boundary(self.id)

    def logs(self, *, tail_lines: int | None = None) -> models.LogResult:
        return self.client.sandboxes.logs(self.id, tail_lines=tail_lines)

    def events(self) -> list[models.RuntimeEvent]:
        return self.client.sandboxes.events(self.id)

    def run(self, command: Iterable[str] | str, **options: Any) -> models.ExecutionTask:
        """Shorthand for `tasks.run`; a string is run by `sh -c`."""
        return self.tasks.run(command, **options)


class _Part:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._client = sandbox.client


def _argv(command: Iterable[str] | str) -> list[str]:
    return ["sh", "-c", command] if isinstance(command, str) else list(command)


class SandboxTasks(_Part):
    def run(self, command: Iterable[str] | str, **options: Any) -> models.ExecutionTask:
        """Run to the end and return the finished task; see `Tasks.run` for options
        (timeout, env, cwd, check, on_stdout, on_stderr, artifact_paths, ...)."""
        return self._client.tasks.run(self._sandbox.id, _argv(command), **options)

    def start(self, command: Iterable[str] | str, **options: Any) -> models.ExecutionTask:
        """Queue and return at once; follow with `events`, `wait` or `cancel`."""
        return self._client.tasks.create(self._sandbox.id, _argv(command), **options)

    def list(self, *, limit: int | None = None) -> list[models.ExecutionTask]:
        return self._client.tasks.list(self._sandbox.id, limit=limit)

    def get(self, task_id: str) -> models.ExecutionTask:
        return self._client.tasks.get(task_id)

    def wait(self, task_id: str, *, timeout: float | None = None) -> models.ExecutionTask:
        return self._client.tasks.wait(task_id, timeout=timeout)

    def events(self, task_id: str, **offsets: int) -> Iterator[models.ExecutionTaskEvent]:
        return self._client.tasks.events(task_id, **offsets)

    def output(self, task_id: str, stream: str = "stdout", *, offset: int = 0) -> bytes:
        return self._client.tasks.output(task_id, stream, offset=offset)

    def cancel(self, task_id: str) -> models.ExecutionTask:
        return self._client.tasks.cancel(task_id)


class SandboxCode(_Part):
    """Python in the sandbox's Jupyter kernels (see `Code.run`)."""

    def run(
        self,
        code: str,
        *,
        context: str | models.CodeContext | None = None,
        envs: Mapping[str, str] | None = None,
        timeout: int | None = None,
        **options: Any,
    ) -> Execution:
        """Run `code` and return its `Execution` (`.text`, `.results`, `.stdout`,
        `.stderr`, `.error`); options: language, on_stdout, on_stderr, on_result."""
        return self._client.code.run(
            self._sandbox.id, code, context=context, envs=envs, timeout=timeout, **options
        )

    def contexts(self) -> list[models.CodeContext]:
        return self._client.code.contexts(self._sandbox.id)

    def create_context(self, *, cwd: str | None = None) -> models.CodeContext:
        return self._client.code.create_context(self._sandbox.id, cwd=cwd)

    def remove_context(self, context: str | models.CodeContext) -> None:
        self._client.code.remove_context(self._sandbox.id, context)

    def restart_context(self, context: str | models.CodeContext) -> None:
        self._client.code.restart_context(self._sandbox.id, context)


class SandboxFiles(_Part):
    """Workspace files; paths are relative to the workspace (nothing outside it)."""

    def list(self, path: str = "") -> list[dict[str, Any]]:
        return self._client.files.list(self._sandbox.id, path)

    def read(self, path: str) -> bytes:
        return self._client.files.read(self._sandbox.id, path)

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return (self.read(path)).decode(encoding)

    def write(self, path: str, data: bytes | str) -> None:
        self._client.files.write(self._sandbox.id, path, data)

    def delete(self, path: str) -> None:
        self._client.files.delete(self._sandbox.id, path)

    def stream(self, path: str) -> Iterator[bytes]:
        """A workspace file's bytes as they arrive (any size)."""
        with self._client.transport.stream(
            "GET", f"/v1/sandboxes/{self._sandbox.id}/files/content", params={"path": path}
        ) as response:
            for chunk in response.iter_bytes():
                yield chunk

    def is_directory(self, path: str) -> bool:
        """Whether `path` names a directory of the workspace ("" is the workspace)."""
        return self._kind(path) == "directory"

    def exists(self, path: str) -> bool:
        return self._kind(path) is not None

    def _kind(self, path: str) -> str | None:
        """What `path` is (its listing's type: file, directory, ...); None: nothing."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if not name:
            return "directory"  # the workspace itself
        try:
            siblings = self.list(parent)
        except NotFoundError:
            return None
        return next((entry["type"] for entry in siblings if entry["name"] == name), None)

    def upload(self, local: str | os.PathLike, remote: str) -> list[str]:
        """Copy a local file or directory tree into the workspace, streamed; the remote
        paths written. Inside a tree, symbolic links are not followed (skipped): a link
        to ~/.ssh in a checked-out repository must not carry a key into the sandbox."""
        source = Path(local)
        if not source.is_dir():
            self._client.files.write(self._sandbox.id, remote, _file_chunks(source))
            return [remote]
        written = []
        for file in _tree_files(source):
            target = posixpath.join(remote, file.relative_to(source).as_posix())
            self._client.files.write(self._sandbox.id, target, _file_chunks(file))
            written.append(target)
        return written

    def download(self, remote: str, local: str | os.PathLike) -> list[Path]:
        """Copy a workspace file or directory tree to the local disk, streamed; the local
        paths written."""
        target = Path(local)
        entries = self._directory(remote)
        if entries is None:
            self._download_file(remote, target)
            return [target]
        written: list[Path] = []
        target.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            _check_name(entry["name"])
            child = posixpath.join(remote.rstrip("/"), entry["name"])
            written += self.download(child, target / entry["name"])
        return written

    def _directory(self, remote: str) -> list[dict[str, Any]] | None:
        """The entries of `remote` when it is a directory; None for a file."""
        kind = self._kind(remote)
        if kind is None:
            raise NotFoundError(404, f"no such file in the workspace: {remote}")
        return self.list(remote) if kind == "directory" else None

    def _download_file(self, remote: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as out:
                for chunk in self.stream(remote):
                    out.write(chunk)
            os.replace(partial, target)
        finally:
            if partial.exists():
                partial.unlink()


def _tree_files(root: Path) -> list[Path]:
    """The regular files under `root`, in order, without following symbolic links."""
    found = []
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        subdirectories.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _check_name(name: str) -> None:
    """A name from the server's listing becomes a local path: one component, no way up."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ApiError(502, f"the server listed an unusable file name: {name!r}")


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


class SandboxTerminal(_Part):
    def attach(
        self,
        terminal_id: str | None = None,
        *,
        shell: str | None = None,
        rows: int = 24,
        cols: int = 80,
        watch: bool = False,
        cursor: int | None = None,
        client: str = "mbox-sdk",
    ) -> Terminal:
        """A new shell, or the terminal `terminal_id` again (from `cursor`, or with its
        whole scrollback)."""
        return Terminal.open(
            self._sandbox,
            terminal_id=terminal_id,
            shell=shell,
            rows=rows,
            cols=cols,
            watch=watch,
            cursor=cursor,
            client=client,
        )


class SandboxPorts(_Part):
    def list(self) -> list[models.PreviewPort]:
        return list((self._client.sandboxes.ports(self._sandbox.id)).items)

    def url(self, port: int) -> str:
        """The port through the API's proxy: an absolute URL a program opens with its
        token (e.g. `mbox.previews.fetch`, or any HTTP client sending the bearer header)."""
        found = self._port(port)
        return self._client.config.api_url + found.preview_url

    def origin(self, port: int) -> str:
        """The port's own preview origin, for a browser signed in to the console (give
        others a `share` link instead)."""
        found = self._port(port)
        if not found.preview_origin:
            raise ApiError(409, found.message or f"port {port} has no preview origin")
        return found.preview_origin

    def _port(self, port: int) -> models.PreviewPort:
        for candidate in self.list():
            if candidate.port == port:
                if not candidate.preview_url:
                    raise ApiError(409, candidate.message or f"port {port} has no preview")
                return candidate
        raise NotFoundError(404, f"sandbox {self._sandbox.id} declares no port {port}")

    def share(
        self, port: int, *, expires_in_seconds: int | None = None, label: str | None = None
    ) -> models.PreviewLink:
        """A share link anyone with the URL may open until it expires (`.url`)."""
        return self._client.previews.create_link(
            self._sandbox.id, port, label=label, expires_in_seconds=expires_in_seconds
        )

    def links(self) -> list[models.PreviewLink]:
        return self._client.previews.links(self._sandbox.id)

    def revoke(self, link_id: str) -> models.PreviewLink:
        return self._client.previews.revoke_link(link_id)

    def fetch(self, port: int, path: str = "", **options: Any):
        """An HTTP request to the port through the API's authenticated proxy."""
        return self._client.previews.fetch(self._sandbox.id, port, path, **options)


class SandboxArtifacts(_Part):
    def list(self) -> list[models.Artifact]:
        return self._client.artifacts.list(self._sandbox.id)

    def capture(
        self, path: str, *, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> models.Artifact:
        """Register the workspace file (or directory, as tar.gz) at `path` and retain its
        bytes now, so they outlive the sandbox."""
        artifact = self._client.artifacts.create(
            self._sandbox.id,
            name=name or posixpath.basename(path.rstrip("/")) or path,
            uri=f"workspace://{path}",
            metadata=dict(metadata) if metadata is not None else None,
        )
        return self._client.artifacts.capture(artifact.id)

    def upload(
        self,
        name: str,
        data: bytes | str | os.PathLike,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, Any] | None = None,
    ) -> models.Artifact:
        """Retain bytes from this machine (bytes, or a local file path, streamed)."""
        artifact = self._client.artifacts.create(
            self._sandbox.id,
            name=name,
            uri=f"upload://{name}",
            content_type=content_type,
            metadata=dict(metadata) if metadata is not None else None,
        )
        content = data if isinstance(data, bytes) else _file_chunks(Path(data))
        return self._client.artifacts.upload(artifact.id, content, content_type=content_type)

    def download(
        self, artifact_id: str, destination: str | os.PathLike | None = None, *, verify: bool = True
    ) -> bytes | None:
        return self._client.artifacts.download(artifact_id, destination, verify=verify)


class SandboxSessions(_Part):
    def list(self) -> list[models.RuntimeSession]:
        return self._client.sessions.list(self._sandbox.id)

    def create(self, **options: Any) -> models.RuntimeSession:
        return self._client.sessions.create(self._sandbox.id, **options)
