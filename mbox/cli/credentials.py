"""`mbox credentials`: a project's credentials (references to secrets, never values)."""

from typing import Annotated

import typer

from mbox.cli._core import client, emit, emit_text, group, parse_json

app = group("Credentials: references to secrets sandboxes may use.")

CredentialArg = Annotated[str, typer.Argument(help="Credential id.", metavar="CREDENTIAL")]


@app.command("list")
def list_credentials(
    project: Annotated[str, typer.Argument(help="Project id, slug or name.", metavar="PROJECT")],
) -> None:
    """A project's credentials."""
    with client() as mbox:
        emit(mbox.credentials.list(mbox.resolve_project(project)), "ProjectCredential")


def create_credential(
    project: str,
    name: str,
    type: str,
    secret_ref: str,
    secret_key: str | None,
    slug: str | None,
    target: str | None,
    usage: list[str] | None,
    metadata: str | None,
) -> None:
    reference = {"name": secret_ref, **({"key": secret_key} if secret_key else {})}
    with client() as mbox:
        emit(
            mbox.credentials.create(
                mbox.resolve_project(project),
                name=name,
                type=type,
                secret_ref=reference,
                slug=slug,
                target=target,
                usage=usage or None,
                metadata=parse_json(metadata),
            )
        )


@app.command()
def create(
    project: Annotated[str, typer.Argument(help="Project id, slug or name.", metavar="PROJECT")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    type: Annotated[str, typer.Option("--type", help="e.g. git, registry, api-key.")],
    secret_ref: Annotated[str, typer.Option("--secret-ref", help="The secret's name.")],
    secret_key: Annotated[
        str | None, typer.Option("--secret-key", help="The key in the secret.")
    ] = None,
    slug: Annotated[str | None, typer.Option("--slug", help="URL-safe name.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="What it is for.")] = None,
    usage: Annotated[
        list[str] | None, typer.Option("--usage", help="Where it is used (repeatable).")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object, inline or @file.")
    ] = None,
) -> None:
    """Add a credential to a project (same as `projects add-credential`)."""
    create_credential(project, name, type, secret_ref, secret_key, slug, target, usage, metadata)


@app.command()
def get(credential: CredentialArg) -> None:
    """One credential."""
    with client() as mbox:
        emit(mbox.credentials.get(credential))


@app.command()
def delete(credential: CredentialArg) -> None:
    """Delete a credential."""
    with client() as mbox:
        mbox.credentials.delete(credential)
    emit_text("deleted")
