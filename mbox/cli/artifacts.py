"""`mbox artifacts`: register, capture, upload and download a sandbox's artifacts."""

import sys
from collections.abc import Iterator
from typing import Annotated, BinaryIO

import typer

from mbox.cli._core import (
    SandboxArg,
    client,
    emit,
    emit_text,
    group,
    parse_json,
    sandbox_id,
    usage_error,
)

app = group("Artifacts: files kept from sandboxes, with digests.")

ArtifactArg = Annotated[str, typer.Argument(help="Artifact id.", metavar="ARTIFACT")]
CHUNK = 1024 * 1024


@app.command("list")
def list_artifacts(
    sandbox: SandboxArg,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """A sandbox's artifacts."""
    with client() as mbox:
        emit(mbox.artifacts.list(sandbox_id(mbox, sandbox), limit=limit), "Artifact")


@app.command()
def get(artifact: ArtifactArg) -> None:
    """One artifact."""
    with client() as mbox:
        emit(mbox.artifacts.get(artifact))


@app.command()
def create(
    sandbox: SandboxArg,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="A workspace file or directory (workspace://).")
    ] = None,
    uri: Annotated[str | None, typer.Option("--uri", help="Any URI (instead of --path).")] = None,
    kind: Annotated[str, typer.Option("--kind", help="file, directory, log, report...")] = "file",
    task_id: Annotated[str | None, typer.Option("--task-id", help="The task it came from.")] = None,
    content_type: Annotated[str | None, typer.Option("--content-type", help="MIME type.")] = None,
    size_bytes: Annotated[int | None, typer.Option("--size-bytes", help="Its size.")] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object, inline or @file.")
    ] = None,
    capture: Annotated[
        bool, typer.Option("--capture", help="Retain the workspace bytes now.")
    ] = False,
) -> None:
    """Register an artifact: a workspace path (--path) or any URI (--uri)."""
    if bool(path) == bool(uri):
        raise usage_error("give --path or --uri (one of them)")
    target = uri or f"workspace://{path}"
    label = name or (path or uri or "").rstrip("/").rsplit("/", 1)[-1] or target
    with client() as mbox:
        artifact = mbox.artifacts.create(
            sandbox_id(mbox, sandbox),
            name=label,
            uri=target,
            kind=kind,
            task_id=task_id,
            content_type=content_type,
            size_bytes=size_bytes,
            metadata=parse_json(metadata),
        )
        if capture:
            artifact = mbox.artifacts.capture(artifact.id)
        emit(artifact)


@app.command()
def capture(artifact: ArtifactArg) -> None:
    """Retain the artifact's workspace bytes now (they outlive the sandbox)."""
    with client() as mbox:
        emit(mbox.artifacts.capture(artifact))


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


@app.command()
def upload(
    artifact: ArtifactArg,
    file: Annotated[str | None, typer.Option("--file", help="The local file to send.")] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Send standard input.")] = False,
    content_type: Annotated[
        str, typer.Option("--content-type", help="MIME type.")
    ] = "application/octet-stream",
) -> None:
    """Retain bytes from this machine as the artifact's content (streamed)."""
    if bool(file) == stdin:
        raise usage_error("give --file PATH or --stdin (one of them)")
    with client() as mbox:
        if stdin:
            result = mbox.artifacts.upload(
                artifact, _chunks(sys.stdin.buffer), content_type=content_type
            )
        else:
            try:
                source = open(file or "", "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise usage_error(f"--file: cannot read {file}: {exc.strerror}") from None
            with source:
                result = mbox.artifacts.upload(artifact, _chunks(source), content_type=content_type)
        emit(result)


@app.command()
def download(
    artifact: ArtifactArg,
    destination: Annotated[
        str | None, typer.Argument(help="Local file (default or '-': standard output).")
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Do not check the recorded sha256.")
    ] = False,
) -> None:
    """The artifact's retained bytes, checked against their recorded sha256."""
    with client() as mbox:
        if destination in (None, "-"):
            out = sys.stdout.buffer
            for chunk in mbox.artifacts.iter_content(artifact, verify=not no_verify):
                out.write(chunk)
            out.flush()
        else:
            mbox.artifacts.download(artifact, destination, verify=not no_verify)


@app.command()
def content(artifact: ArtifactArg) -> None:
    """The artifact's retained bytes on standard output (raw)."""
    download(artifact, None, False)


@app.command()
def delete(artifact: ArtifactArg) -> None:
    """Delete an artifact and its retained bytes."""
    with client() as mbox:
        mbox.artifacts.delete(artifact)
    emit_text("deleted")
