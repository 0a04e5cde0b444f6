"""The `mbox` command line: a thin HTTP client of the /v1 API (grows with later releases)."""

from __future__ import annotations

import json
import os

import httpx
import typer

app = typer.Typer(help="Drive an mbox server from the command line.", no_args_is_help=True)


def _client() -> httpx.Client:
    token = os.environ.get("MBOX_TOKEN") or os.environ.get("MBOX_API_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base_url = os.environ.get("MBOX_API_URL", "http://127.0.0.1:3000").rstrip("/")
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def _print(response: httpx.Response) -> None:
    if response.is_error:
        message = response.json().get("error") if response.content else response.reason_phrase
        typer.echo(f"mbox API request failed: {message}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(response.json(), indent=2))


@app.command()
def health() -> None:
    """Check that the server and its database answer."""
    with _client() as client:
        _print(client.get("/healthz"))


@app.command()
def info() -> None:
    """Show the server's API version and capabilities."""
    with _client() as client:
        _print(client.get("/v1/info"))


def main() -> None:
    app()
