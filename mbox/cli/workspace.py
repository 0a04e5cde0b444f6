"""Working in a sandbox from here: `mbox shell`, `mbox cp`, `mbox open`."""

import os
import posixpath
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mbox.cli._core import SandboxArg, client, emit, emit_text, fail, sandbox, usage_error

_REMOTE = re.compile(r"^([^/:]+):(.*)$")


def shell(
    sandbox_ref: SandboxArg,
    terminal: Annotated[
        str | None, typer.Option("--terminal", help="Reattach to this terminal id.")
    ] = None,
    shell_name: Annotated[
        str | None, typer.Option("--shell", help="The shell to start, e.g. bash or sh.")
    ] = None,
    detach_key: Annotated[
        str, typer.Option("--detach-key", help="Leave the shell running: ctrl-] or ctrl-<letter>.")
    ] = "ctrl-]",
) -> None:
    """Attach this terminal (raw mode, resized with the window) to a shell in the sandbox;
    the detach key leaves it running, to reattach with --terminal."""
    with client() as mbox:
        handle = sandbox(mbox, sandbox_ref)
        code = attach(handle, terminal_id=terminal, shell=shell_name, detach_key=detach_key)
    raise typer.Exit(code)


def attach(handle: Any, **options: Any) -> int:
    """`run_shell` (mbox/cli/shell.py), its connection failures reported as `mbox: ...`."""
    from websockets.exceptions import WebSocketException

    from mbox.cli.shell import run_shell

    try:
        return run_shell(handle, **options)
    except ValueError as exc:  # e.g. an unknown detach key
        raise usage_error(str(exc)) from None
    except (OSError, WebSocketException) as exc:
        raise fail(f"cannot attach to a terminal of sandbox {handle.id}: {exc}") from None


def _split(spec: str) -> tuple[str, str] | None:
    """(sandbox, path) for SANDBOX:PATH; None for a local path."""
    match = _REMOTE.match(spec)
    if not match or os.path.exists(spec):
        return None
    path = match.group(2)
    while path.startswith("./"):
        path = path[2:]
    return match.group(1), path


def cp(
    source: Annotated[str, typer.Argument(help="SANDBOX:PATH or a local path ('-': stdin).")],
    destination: Annotated[str, typer.Argument(help="SANDBOX:PATH or a local path ('-': stdout).")],
) -> None:
    """Copy files and directory trees to or from a sandbox's workspace, streamed.

    One side is SANDBOX:PATH (PATH relative to the workspace; empty for its root). A
    directory is copied whole; copying into an existing directory (local or remote) keeps
    the source's name, as cp -r does."""
    remote_source, remote_destination = _split(source), _split(destination)
    if bool(remote_source) == bool(remote_destination):
        raise usage_error("one side (not both) must be SANDBOX:PATH")
    with client() as mbox:
        if remote_destination:
            ref, path = remote_destination
            handle = sandbox(mbox, ref)
            if source == "-":
                if not path or path.endswith("/"):
                    raise usage_error("copying standard input needs a file name: SANDBOX:PATH")
                handle.client.files.write(handle.id, path, _stdin_chunks())
                files = [path]
            else:
                local = Path(source)
                if not local.exists():
                    raise fail(f"no such file or directory: {source}")
                if not path or path.endswith("/") or handle.files.is_directory(path):
                    path = posixpath.join(path, local.resolve().name)  # as cp -r does
                files = handle.files.upload(local, path)
        else:
            assert remote_source is not None
            ref, path = remote_source
            handle = sandbox(mbox, ref)
            if destination == "-":
                for chunk in handle.files.stream(path):
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                return
            target = Path(destination)
            name = posixpath.basename(path.rstrip("/"))
            if target.is_dir() and name:
                target = target / name
            files = [str(p) for p in handle.files.download(path, target)]
    emit({"source": source, "destination": destination, "files": files, "count": len(files)})


def archive(
    source: Annotated[
        str, typer.Argument(help="SANDBOX:PATH of a directory (SANDBOX: alone: the workspace).")
    ],
    destination: Annotated[
        str | None,
        typer.Argument(help="Local file (default: NAME.tar.gz here; '-': standard output)."),
    ] = None,
) -> None:
    """Download a workspace directory as one tar.gz, made by the server as it streams
    (symlinks stored as links, never followed; at most 1 GiB)."""
    remote = _split(source if ":" in source else f"{source}:")
    if remote is None:
        raise usage_error("the source must be SANDBOX:PATH")
    ref, path = remote
    with client() as mbox:
        handle = sandbox(mbox, ref)
        if destination == "-":
            for chunk in mbox.files.iter_archive(handle.id, path):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        name = posixpath.basename(path.rstrip("/")) or "workspace"
        target = destination or f"{name}.tar.gz"
        mbox.files.archive(handle.id, path, target)
    emit({"source": source, "destination": target})


def _stdin_chunks():
    while chunk := sys.stdin.buffer.read(1024 * 1024):
        yield chunk


def open_preview(
    sandbox_ref: SandboxArg,
    port: Annotated[
        int | None, typer.Argument(help="The port (default: the first declared).")
    ] = None,
    share: Annotated[
        bool, typer.Option("--share", help="Create a share link anyone with it may open.")
    ] = False,
    expires: Annotated[
        int | None, typer.Option("--expires", help="The share link's lifetime in seconds.")
    ] = None,
    origin: Annotated[
        bool, typer.Option("--origin", help="The port's own origin (browser signed in).")
    ] = False,
    browser: Annotated[bool, typer.Option("--browser", help="Open it in a web browser.")] = False,
) -> None:
    """Print a sandbox port's preview URL (the API proxy, for clients with the token), its
    origin, or a share link; --browser opens it."""
    if expires is not None and not share:
        raise usage_error("--expires goes with --share")
    with client() as mbox:
        handle = sandbox(mbox, sandbox_ref)
        if port is None:
            declared = handle.ports.list()
            if not declared:
                raise fail(f"sandbox {handle.id} declares no ports")
            port = declared[0].port
        if share:
            link = handle.ports.share(port, expires_in_seconds=expires)
            url = link.url or ""
        elif origin:
            url = handle.ports.origin(port)
        else:
            url = handle.ports.url(port)
    emit_text(url)
    if browser:
        import webbrowser

        if not url.startswith(("http://", "https://")):  # never a file: or other handler
            raise fail(f"not opening {url!r}: not an http(s) URL")
        webbrowser.open(url)


def register(app: typer.Typer) -> None:
    app.command("shell")(shell)
    app.command("terminal", hidden=True)(shell)
    app.command("cp")(cp)
    app.command("archive")(archive)
    app.command("open")(open_preview)
