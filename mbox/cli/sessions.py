"""`mbox sessions`: a sandbox's sessions (terminals, API clients) and their recordings."""

import sys
from typing import Annotated

import typer

from mbox.cli._core import SandboxArg, client, emit, group, parse_json, sandbox_id

app = group("Sessions: who is attached to a sandbox, and recordings.")

SessionArg = Annotated[str, typer.Argument(help="Session id.", metavar="SESSION")]


@app.command("list")
def list_sessions(sandbox: SandboxArg) -> None:
    """A sandbox's sessions."""
    with client() as mbox:
        emit(mbox.sessions.list(sandbox_id(mbox, sandbox)), "RuntimeSession")


@app.command()
def create(
    sandbox: SandboxArg,
    type: Annotated[str, typer.Option("--type", help="e.g. api, terminal, agent.")],
    client_name: Annotated[str, typer.Option("--client", help="Who opens it.")] = "mbox-cli",
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object, inline or @file.")
    ] = None,
) -> None:
    """Open a session on a sandbox."""
    with client() as mbox:
        emit(
            mbox.sessions.create(
                sandbox_id(mbox, sandbox),
                type=type,
                client=client_name,
                metadata=parse_json(metadata),
            )
        )


@app.command()
def get(session: SessionArg) -> None:
    """One session."""
    with client() as mbox:
        emit(mbox.sessions.get(session))


@app.command()
def end(session: SessionArg) -> None:
    """End a session."""
    with client() as mbox:
        emit(mbox.sessions.end(session))


@app.command()
def recording(session: SessionArg) -> None:
    """A terminal session's recording (asciicast v2) on stdout."""
    with client() as mbox:
        data = mbox.sessions.recording(session)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
