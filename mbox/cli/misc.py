"""The server itself: health, info, compat, openapi, whoami; and `mbox mcp`, `mbox help`."""

from typing import Annotated

import typer

from mbox.cli._core import client, emit, fail


def health() -> None:
    """Check that the server and its database answer (GET /healthz)."""
    with client() as mbox:
        emit(mbox.health())


def info() -> None:
    """The server's API version, capabilities and runtime (GET /v1/info)."""
    with client() as mbox:
        emit(mbox.info())


def openapi() -> None:
    """The server's OpenAPI document (GET /v1/openapi.json)."""
    with client() as mbox:
        emit(mbox.openapi())


def whoami() -> None:
    """Who the token is: principal, role and projects (GET /v1/whoami)."""
    with client() as mbox:
        emit(mbox.whoami())


def compat(
    client_api_version: Annotated[
        str, typer.Option("--client-api-version", help="The API version this client speaks.")
    ] = "v1alpha1",
    require_capability: Annotated[
        list[str] | None,
        typer.Option("--require-capability", help="A capability the server must offer."),
    ] = None,
) -> None:
    """Check this client against the server's API version and capabilities; exit 1 when
    they do not suit."""
    with client() as mbox:
        result = mbox.check_compatibility(
            required_capabilities=require_capability or (),
            client_api_version=client_api_version,
            client="cli",
        )
    emit(result.to_json())
    if not result.ok:
        raise fail(result.message)


def mcp(
    transport: Annotated[
        str, typer.Option("--transport", help="stdio (for an agent host) or http.")
    ] = "stdio",
    host: Annotated[str, typer.Option("--host", help="Address to listen on (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (http).")] = 8765,
) -> None:
    """Serve mbox to agents over the Model Context Protocol (needs the `mcp` extra)."""
    if transport not in ("stdio", "http"):
        raise typer.BadParameter("--transport is stdio or http")
    try:
        from mbox.mcp_server import main as serve
    except ImportError as exc:
        raise fail(f"the MCP server is not available ({exc}); install mbox[mcp]") from None
    serve(transport=transport, host=host, port=port)


def help_command(ctx: typer.Context) -> None:
    """Show this help."""
    typer.echo((ctx.parent or ctx).get_help())


def register(app: typer.Typer) -> None:
    app.command()(health)
    app.command()(info)
    app.command()(compat)
    app.command()(openapi)
    app.command()(whoami)
    app.command()(mcp)
    app.command("help", hidden=True)(help_command)
