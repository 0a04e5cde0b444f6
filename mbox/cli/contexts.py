"""`mbox context`: named servers in ~/.mbox/config.json (written 0600 in a 0700 directory).

A context names its token's environment variable (`--token-env`) to keep the secret out
of the file, or holds the token itself (`--token`). Listings never show a token.
"""

import os
from typing import Annotated

import typer

from mbox.cli._core import STATE, emit, emit_text, fail, group, usage_error

app = group("Named servers (API URL, token or its env var, audit identity).")


def _store():
    from mbox.config import ContextStore

    return ContextStore.load(STATE.config)


@app.command("set")
def set_context(
    name: Annotated[str, typer.Argument(help="The context's name.")],
    api_url: Annotated[str, typer.Option("--api-url", help="The server's URL.")],
    token: Annotated[
        str | None, typer.Option("--token", help="The token itself (stored in the file).")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", help="The environment variable holding the token."),
    ] = None,
    audit_actor: Annotated[
        str | None, typer.Option("--audit-actor", help="Audit actor sent with each request.")
    ] = None,
    audit_source: Annotated[
        str | None, typer.Option("--audit-source", help="Audit source sent with each request.")
    ] = None,
    current: Annotated[
        bool, typer.Option("--current", help="Make it the current context.")
    ] = False,
) -> None:
    """Add or replace a context (the first one becomes current)."""
    from mbox.config import Context

    if token and token_env:
        raise usage_error("give --token or --token-env, not both")
    store = _store()
    store.set(
        name,
        Context(
            api_url=api_url.strip().rstrip("/"),
            token=token or "",
            token_env=token_env or "",
            audit_actor=audit_actor or "",
            audit_source=audit_source or "",
        ),
        make_current=current,
    )
    store.save()
    emit(store.get(name).redacted(name, store.current == name, os.environ), "Context")


@app.command()
def use(name: Annotated[str, typer.Argument(help="The context to make current.")]) -> None:
    """Make a context the current one."""
    store = _store()
    store.use(name)
    store.save()
    emit(store.get(name).redacted(name, True, os.environ), "Context")


@app.command("list")
def list_contexts() -> None:
    """Every context (tokens shown only as hasToken)."""
    store = _store()
    items = [
        store.contexts[name].redacted(name, name == store.current, os.environ)
        for name in sorted(store.contexts)
    ]
    emit({"currentContext": store.current, "items": items}, "Context")


@app.command()
def current() -> None:
    """The current context."""
    store = _store()
    if not store.current or store.current not in store.contexts:
        raise fail(f"no current context in {store.path}")
    emit(store.contexts[store.current].redacted(store.current, True, os.environ), "Context")


@app.command()
def check(
    name: Annotated[
        str | None, typer.Argument(help="The context to check (default: current).")
    ] = None,
) -> None:
    """Reach the server with a context's URL and token: its API version and who the
    token is (GET /v1/info and /v1/whoami)."""
    from mbox._sync.client import Mbox

    store = _store()
    name = name or STATE.context or store.current
    if not name:
        raise fail(f"no current context in {store.path}")
    context = store.get(name)
    token = context.resolved_token(os.environ)
    report = {"context": name, "apiUrl": context.api_url, "hasToken": bool(token)}
    with Mbox(
        api_url=context.api_url,
        token=token,
        config_file=STATE.config,
        audit_actor=context.audit_actor or None,
        audit_source=context.audit_source or None,
        max_retries=0,
    ) as mbox:
        info = mbox.info()
        report |= {"apiVersion": info.api_version, "serverVersion": info.server_version}
        whoami = mbox.whoami()
    report |= {"ok": True, "whoami": whoami.raw or whoami.to_json()}
    emit(report)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The context to remove.")]) -> None:
    """Remove a context (the current one falls back to the first remaining)."""
    store = _store()
    store.remove(name)
    store.save()
    emit_text("deleted")


app.command("delete", hidden=True)(remove)
