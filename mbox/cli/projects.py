"""`mbox projects`: projects, their usage, launch policy, quota and credentials."""

from typing import Annotated

import typer

from mbox.cli._core import client, emit, emit_text, group, parse_json, usage_error
from mbox.cli.audit import with_audit_filters

app = group("Projects: usage, launch policy, quota, credentials.")

ProjectArg = Annotated[str, typer.Argument(help="Project id, slug or name.", metavar="PROJECT")]
Metadata = Annotated[str | None, typer.Option("--metadata", help="JSON object, inline or @file.")]


@app.command("list")
def list_projects(
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """The projects the token sees."""
    with client() as mbox:
        emit(mbox.projects.list(limit=limit), "Project")


@app.command()
def get(project: ProjectArg) -> None:
    """One project."""
    with client() as mbox:
        emit(mbox.projects.get(mbox.resolve_project(project)))


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    namespace: Annotated[str, typer.Option("--namespace", help="Default runtime namespace.")],
    slug: Annotated[str | None, typer.Option("--slug", help="URL-safe name.")] = None,
    repository_url: Annotated[
        str | None, typer.Option("--repository-url", help="Source repository.")
    ] = None,
    artifact_retention_days: Annotated[
        int | None, typer.Option("--artifact-retention-days", help="Keep artifacts this long.")
    ] = None,
    metadata: Metadata = None,
) -> None:
    """Create a project."""
    with client() as mbox:
        emit(
            mbox.projects.create(
                name,
                default_namespace=namespace,
                slug=slug,
                repository_url=repository_url,
                artifact_retention_days=artifact_retention_days,
                metadata=parse_json(metadata),
            )
        )


@app.command()
def update(
    project: ProjectArg,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Default runtime namespace.")
    ] = None,
    repository_url: Annotated[
        str | None, typer.Option("--repository-url", help="Source repository.")
    ] = None,
    default_template: Annotated[
        str | None,
        typer.Option("--default-template", help="Default template id or slug ('' clears it)."),
    ] = None,
    artifact_retention_days: Annotated[
        int | None, typer.Option("--artifact-retention-days", help="Keep artifacts this long.")
    ] = None,
    metadata: Metadata = None,
) -> None:
    """Change a project's fields (only those given)."""
    from mbox.cli._core import template_id

    with client() as mbox:
        project_id = mbox.resolve_project(project)
        changes = {
            key: value
            for key, value in {
                "name": name,
                "defaultNamespace": namespace,
                "repositoryUrl": repository_url,
                "artifactRetentionDays": artifact_retention_days,
                "metadata": parse_json(metadata),
            }.items()
            if value is not None
        }
        if default_template is not None:
            changes["defaultTemplateId"] = (
                template_id(mbox, default_template, project_id) if default_template else None
            )
        if not changes:
            raise usage_error("nothing to change: give at least one option")
        emit(mbox.projects.update(project_id, **changes))


@app.command()
def delete(project: ProjectArg) -> None:
    """Delete a project."""
    with client() as mbox:
        mbox.projects.delete(mbox.resolve_project(project))
    emit_text("deleted")


@app.command()
def usage(project: ProjectArg) -> None:
    """What a project uses: sandboxes, tasks, sessions, templates, artifacts, quota."""
    with client() as mbox:
        emit(mbox.projects.usage(mbox.resolve_project(project)))


@app.command("artifact-usage")
def artifact_usage(project: ProjectArg) -> None:
    """The bytes a project's retained artifacts hold."""
    with client() as mbox:
        emit(mbox.projects.artifact_usage(mbox.resolve_project(project)))


@app.command("audit-events")
@with_audit_filters(project=False)
def audit_events(project: ProjectArg, filters: dict) -> None:
    """The project's audit feed (filters as `mbox audit-events`)."""
    from mbox.cli.audit import run_audit_events

    run_audit_events(filters, project=project)


@app.command()
def policy(project: ProjectArg) -> None:
    """The project's launch policy."""
    with client() as mbox:
        emit(mbox.projects.policy(mbox.resolve_project(project)))


@app.command("set-policy")
def set_policy(
    project: ProjectArg,
    enforcement: Annotated[str, typer.Option("--enforcement", help="disabled or enforced.")],
    allowed_image_prefix: Annotated[
        list[str] | None,
        typer.Option("--allowed-image-prefix", help="An image prefix sandboxes may use."),
    ] = None,
    allowed_service_account: Annotated[
        list[str] | None,
        typer.Option("--allowed-service-account", help="A service account sandboxes may use."),
    ] = None,
    allowed_secret_ref: Annotated[
        list[str] | None,
        typer.Option("--allowed-secret-ref", help="A secret sandboxes may mount."),
    ] = None,
) -> None:
    """Replace the project's launch policy (every list is sent, empty when not given)."""
    with client() as mbox:
        emit(
            mbox.projects.set_policy(
                mbox.resolve_project(project),
                enforcement=enforcement,
                allowed_image_prefixes=allowed_image_prefix or [],
                allowed_service_accounts=allowed_service_account or [],
                allowed_secret_refs=allowed_secret_ref or [],
            )
        )


@app.command("quota")
def quota(project: ProjectArg) -> None:
    """The project's quota policy."""
    with client() as mbox:
        emit(mbox.projects.quota_policy(mbox.resolve_project(project)))


app.command("quota-policy", hidden=True)(quota)

QUOTA_LIMITS = (
    "max_active_sandboxes",
    "max_running_sandboxes",
    "max_cpu",
    "max_memory",
    "max_tasks_in_progress",
    "max_live_terminals",
    "max_retained_artifact_bytes",
)


@app.command("set-quota")
def set_quota(
    project: ProjectArg,
    enforcement: Annotated[str, typer.Option("--enforcement", help="disabled or enforced.")],
    max_active_sandboxes: Annotated[int | None, typer.Option(help="Sandboxes not deleted.")] = None,
    max_running_sandboxes: Annotated[int | None, typer.Option(help="Sandboxes running.")] = None,
    max_cpu: Annotated[str | None, typer.Option(help="CPU requested, e.g. 4 or 4000m.")] = None,
    max_memory: Annotated[str | None, typer.Option(help="Memory requested, e.g. 8Gi.")] = None,
    max_tasks_in_progress: Annotated[
        int | None, typer.Option(help="Tasks queued or running.")
    ] = None,
    max_live_terminals: Annotated[int | None, typer.Option(help="Terminals attached.")] = None,
    max_retained_artifact_bytes: Annotated[
        int | None, typer.Option(help="Bytes of retained artifacts.")
    ] = None,
) -> None:
    """Replace the project's quota policy (negative or absent limits are not sent)."""
    given = {
        "max_active_sandboxes": max_active_sandboxes,
        "max_running_sandboxes": max_running_sandboxes,
        "max_cpu": max_cpu,
        "max_memory": max_memory,
        "max_tasks_in_progress": max_tasks_in_progress,
        "max_live_terminals": max_live_terminals,
        "max_retained_artifact_bytes": max_retained_artifact_bytes,
    }
    limits = {
        key: value
        for key, value in given.items()
        if value is not None and not (isinstance(value, int) and value < 0)
    }
    with client() as mbox:
        emit(
            mbox.projects.set_quota_policy(
                mbox.resolve_project(project), enforcement=enforcement, **limits
            )
        )


app.command("set-quota-policy", hidden=True)(set_quota)


@app.command("credentials")
def credentials(project: ProjectArg) -> None:
    """The project's credentials (references to secrets, never values)."""
    with client() as mbox:
        emit(mbox.credentials.list(mbox.resolve_project(project)), "ProjectCredential")


@app.command("add-credential")
def add_credential(
    project: ProjectArg,
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
    metadata: Metadata = None,
) -> None:
    """Add a credential to the project: a reference to a secret, never its value."""
    from mbox.cli.credentials import create_credential

    create_credential(project, name, type, secret_ref, secret_key, slug, target, usage, metadata)
