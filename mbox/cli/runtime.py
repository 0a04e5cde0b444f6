"""`mbox runtime`: what the server's runtime holds, its image cache, orphans, and their
cleanup."""

from typing import Annotated

import typer

from mbox.cli._core import STATE, client, emit, fail, group, usage_error

app = group("The runtime: managed resources, cached images, orphans, cleanup.")

CONFIRM = "delete-orphan-runtime-resource"
Namespace = Annotated[str | None, typer.Option("--namespace", help="Only this namespace.")]
Kind = Annotated[str | None, typer.Option("--kind", help="Only this kind of resource.")]


@app.command()
def resources(
    namespace: Namespace = None,
    kind: Kind = None,
    summary: Annotated[bool, typer.Option("--summary", help="Only the summary.")] = False,
) -> None:
    """The runtime resources the server manages."""
    with client() as mbox:
        result = mbox.runtime.resources(namespace=namespace, kind=kind)
    if summary:
        body = result.raw or result.to_json()
        if not isinstance(body.get("summary"), dict):
            raise fail("the server's answer has no summary")
        emit(body["summary"])
    else:
        emit(result)


app.command("resource", hidden=True)(resources)


@app.command()
def orphans(namespace: Namespace = None, kind: Kind = None) -> None:
    """Runtime resources no sandbox owns any more."""
    with client() as mbox:
        emit(mbox.runtime.orphans(namespace=namespace, kind=kind))


app.command("orphan", hidden=True)(orphans)


@app.command()
def images() -> None:
    """The images the runtime keeps on its host, most recently used first (a cluster's
    runtime keeps none: its nodes do)."""
    with client() as mbox:
        result = mbox.runtime.images()
    if STATE.format != "table":
        emit(result)
        return
    emit(
        [
            {
                "digest": image.digest[:19],
                "references": ", ".join(image.references),
                "size": _size(image.size_bytes),
                "lastUsedAt": image.last_used_at.isoformat(),
                "inUse": image.in_use,
            }
            for image in result.items
        ],
        "CachedImage",
    )


app.command("image", hidden=True)(images)


def _size(count: int) -> str:
    """Bytes for people: 512 B, 3.4 MiB, 1.2 GiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


@app.command("cleanup-orphan")
def cleanup_orphan(
    kind: Annotated[str, typer.Option("--kind", help="The resource's kind.")],
    namespace: Annotated[str, typer.Option("--namespace", help="The resource's namespace.")],
    name: Annotated[str, typer.Option("--name", help="The resource's name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit).")],
    confirm: Annotated[str, typer.Option("--confirm", help=f"Must be {CONFIRM}.")],
    adapter: Annotated[str, typer.Option("--adapter", help="The runtime adapter.")] = (
        "agent-sandbox"
    ),
    api_version: Annotated[
        str | None, typer.Option("--api-version", help="The resource's apiVersion.")
    ] = None,
) -> None:
    """Delete one orphaned runtime resource (an audited, confirmed operation)."""
    if confirm != CONFIRM:
        raise usage_error(f"--confirm must be {CONFIRM}")
    with client() as mbox:
        emit(
            mbox.runtime.cleanup_orphan(
                kind=kind,
                namespace=namespace,
                name=name,
                reason=reason,
                adapter=adapter,
                api_version=api_version,
            )
        )
