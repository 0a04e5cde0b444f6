"""`mbox sandboxes`: launch, wait for, change, stop, start, renew and delete sandboxes."""

from typing import Annotated, Any

import typer

from mbox.cli._core import (
    SandboxArg,
    client,
    emit,
    emit_text,
    group,
    parse_duration,
    parse_json,
    progress,
    sandbox_id,
    usage_error,
)

app = group("Sandboxes: launch, wait, stop, start, renew, delete.")

Timeout = Annotated[
    str | None,
    typer.Option("--timeout", help="How long to wait, e.g. 300s or 5m (default 300s)."),
]


@app.command("list")
def list_sandboxes(
    project_id: Annotated[
        str | None, typer.Option("--project-id", "--project", help="Project id or slug.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """The sandboxes the token sees (of one project with --project-id)."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        emit(mbox.sandboxes.list(project_id=project, limit=limit), "Sandbox")


@app.command()
def get(sandbox: SandboxArg) -> None:
    """One sandbox."""
    with client() as mbox:
        emit(mbox.sandboxes.info(sandbox_id(mbox, sandbox)))


@app.command()
def create(
    project_id: Annotated[
        str | None,
        typer.Option(
            "--project-id",
            "--project",
            help="Project id or slug (default: the only project the token sees).",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    template_id: Annotated[
        str | None,
        typer.Option(
            "--template-id", "--template", help="Template id or slug (default: the project's)."
        ),
    ] = None,
    slug: Annotated[str | None, typer.Option("--slug", help="URL-safe name.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Runtime namespace.")] = None,
    service_account: Annotated[
        str | None, typer.Option("--service-account", help="Runtime service account.")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object, inline or @file.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until it runs, showing the phase.")
    ] = False,
    timeout: Timeout = None,
    shell: Annotated[
        bool, typer.Option("--shell", help="Then attach a shell to it (implies --wait).")
    ] = False,
) -> None:
    """Launch a sandbox; with --wait, return once it runs; with --shell, attach to it."""
    wait = wait or shell
    with client() as mbox:
        with progress("launching") as on_progress:
            created = mbox.sandboxes.create(
                template_id,
                project=project_id,
                name=name,
                slug=slug,
                namespace=namespace,
                service_account=service_account,
                metadata=parse_json(metadata),
                wait=wait,
                wait_timeout=parse_duration(timeout),
                on_progress=on_progress,
                keep=True,
            )
        if shell:
            from mbox.cli.workspace import attach

            raise typer.Exit(attach(created))
        emit(created.info)


@app.command()
def update(
    sandbox: SandboxArg,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Runtime namespace.")] = None,
    service_account: Annotated[
        str | None, typer.Option("--service-account", help="Runtime service account.")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object, inline or @file.")
    ] = None,
) -> None:
    """Change a sandbox's fields (only those given)."""
    changes = {
        key: value
        for key, value in {
            "name": name,
            "namespace": namespace,
            "serviceAccountName": service_account,
            "metadata": parse_json(metadata),
        }.items()
        if value is not None
    }
    if not changes:
        raise usage_error("nothing to change: give at least one option")
    with client() as mbox:
        emit(mbox.sandboxes.update(sandbox_id(mbox, sandbox), **changes))


@app.command()
def delete(sandbox: SandboxArg) -> None:
    """Delete a sandbox (its runtime goes; retained artifacts stay)."""
    with client() as mbox:
        mbox.sandboxes.delete(sandbox_id(mbox, sandbox))
    emit_text("deleted")


def _wait(handle: Any, status: str, timeout: str | None, label: str) -> None:
    with progress(label) as on_progress:
        handle.wait_until(status, timeout=parse_duration(timeout), on_progress=on_progress)


@app.command()
def start(
    sandbox: SandboxArg,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it runs.")] = False,
    timeout: Timeout = None,
) -> None:
    """Start a stopped sandbox."""
    with client() as mbox:
        handle = mbox.sandboxes.get(sandbox_id(mbox, sandbox))
        handle.info = mbox.sandboxes.start(handle.id)
        if wait:
            _wait(handle, "running", timeout, "starting")
        emit(handle.info)


@app.command()
def stop(
    sandbox: SandboxArg,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has stopped.")] = False,
    timeout: Timeout = None,
) -> None:
    """Stop a sandbox (its workspace is kept; start it again later)."""
    with client() as mbox:
        handle = mbox.sandboxes.get(sandbox_id(mbox, sandbox))
        handle.info = mbox.sandboxes.stop(handle.id)
        if wait:
            _wait(handle, "stopped", timeout, "stopping")
        emit(handle.info)


@app.command()
def renew(
    sandbox: SandboxArg,
    ttl_seconds: Annotated[
        int | None, typer.Option("--ttl-seconds", help="New lifetime from now.")
    ] = None,
) -> None:
    """Push a sandbox's expiry back."""
    with client() as mbox:
        emit(mbox.sandboxes.renew(sandbox_id(mbox, sandbox), ttl_seconds=ttl_seconds))


@app.command()
def wait(
    sandbox: SandboxArg,
    status: Annotated[str, typer.Option("--status", help="The status to wait for.")] = "running",
    timeout: Timeout = None,
) -> None:
    """Wait until a sandbox reaches a status (exit 1 if it fails or time runs out)."""
    with client() as mbox:
        handle = mbox.sandboxes.get(sandbox_id(mbox, sandbox))
        _wait(handle, status, timeout, "waiting")
        emit(handle.info)


@app.command()
def boundary(sandbox: SandboxArg) -> None:
    """What the sandbox may reach: image, network, secrets, checks."""
    with client() as mbox:
        emit(mbox.sandboxes.boundary(sandbox_id(mbox, sandbox)))


@app.command()
def metrics(
    sandbox: SandboxArg,
    window: Annotated[
        int | None,
        typer.Option("--window", help="Seconds back from now (server default 300)."),
    ] = None,
) -> None:
    """Live resource use: CPU, memory, disk, processes and network, sampled over time."""
    with client() as mbox:
        emit(mbox.sandboxes.metrics(sandbox_id(mbox, sandbox), window=window))


@app.command()
def logs(
    sandbox: SandboxArg,
    tail: Annotated[
        int | None, typer.Option("--tail", help="Last lines (server default 200).")
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Only the log text.")] = False,
) -> None:
    """The sandbox's runtime logs."""
    with client() as mbox:
        result = mbox.sandboxes.logs(sandbox_id(mbox, sandbox), tail_lines=tail)
    if raw:
        typer.echo(result.logs, nl=not result.logs.endswith("\n"))
    else:
        emit(result)


@app.command()
def events(
    sandbox: SandboxArg,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """The runtime's events for the sandbox (scheduling, pulling, starting...)."""
    with client() as mbox:
        emit(mbox.sandboxes.events(sandbox_id(mbox, sandbox), limit=limit), "RuntimeEvent")


@app.command()
def ports(sandbox: SandboxArg) -> None:
    """The sandbox's declared ports and their preview URLs."""
    with client() as mbox:
        result = mbox.sandboxes.ports(sandbox_id(mbox, sandbox))
    emit(result.items if _is_table() else result, "PreviewPort")


@app.command()
def runtime(sandbox: SandboxArg) -> None:
    """Where the sandbox runs (the runtime target)."""
    with client() as mbox:
        emit(mbox.sandboxes.runtime(sandbox_id(mbox, sandbox)))


def _is_table() -> bool:
    from mbox.cli._core import STATE

    return STATE.format == "table"


def register_shortcuts(root: typer.Typer) -> None:
    """The reference's top-level `logs SANDBOX` and `ports SANDBOX`."""
    root.command("logs", hidden=True)(logs)
    root.command("ports", hidden=True)(ports)
