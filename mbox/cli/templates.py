"""`mbox templates`: environment templates, their boundary and validation runs."""

from typing import Annotated, Any

import typer

from mbox.cli._core import (
    STATE,
    client,
    emit,
    emit_text,
    group,
    parse_json,
    parse_pairs,
    template_id,
    usage_error,
)

app = group("Environment templates: image, build recipe, resources, ports, policy.")

TemplateArg = Annotated[str, typer.Argument(help="Template id or slug.", metavar="TEMPLATE")]
ProjectOpt = Annotated[
    str | None, typer.Option("--project-id", "--project", help="Project id or slug.")
]


def _ports(values: list[str] | None) -> list[dict[str, Any]] | None:
    """NAME:PORT[/PROTOCOL] or PORT as the API's exposedPorts."""
    if not values:
        return None
    ports = []
    for value in values:
        name, _, rest = value.rpartition(":")
        number, _, protocol = rest.partition("/")
        if not number.isdigit():
            raise usage_error(f"--port: expected NAME:PORT or PORT, got {value!r}")
        port: dict[str, Any] = {"name": name or f"port-{number}", "port": int(number)}
        if protocol:
            port["protocol"] = protocol
        ports.append(port)
    return ports


def _fields(
    image: str | None,
    startup_command: str | None,
    working_dir: str | None,
    cpu: str | None,
    memory: str | None,
    storage: str | None,
    port: list[str] | None,
    env: list[str] | None,
    network_policy: str | None,
    egress_allow: list[str] | None,
    egress_deny: list[str] | None,
    metadata: str | None,
    spec: str | None,
    image_pull_policy: str | None = None,
    build: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = dict(parse_json(spec, "--spec") or {})
    command = parse_json(startup_command, "--startup-command") if startup_command else None
    for key, value in {
        "image": image,
        "startupCommand": command,
        "workingDir": working_dir,
        "cpuRequest": cpu,
        "memoryRequest": memory,
        "storageRequest": storage,
        "exposedPorts": _ports(port),
        "env": parse_pairs(env, "--env"),
        "networkPolicy": network_policy,
        "egressAllow": egress_allow or None,
        "egressDeny": egress_deny or None,
        "imagePullPolicy": image_pull_policy,
        "build": parse_json(build, "--build"),
        "metadata": parse_json(metadata),
    }.items():
        if value is not None:
            fields[key] = value
    return fields


Image = Annotated[
    str | None,
    typer.Option("--image", help="Container image ('host': this machine's /usr, local runtime)."),
]
StartupCommand = Annotated[
    str | None, typer.Option("--startup-command", help='JSON argv, e.g. ["sleep","infinity"].')
]
WorkingDir = Annotated[str | None, typer.Option("--working-dir", help="Working directory.")]
Cpu = Annotated[str | None, typer.Option("--cpu", help="CPU request, e.g. 500m.")]
Memory = Annotated[str | None, typer.Option("--memory", help="Memory request, e.g. 512Mi.")]
Storage = Annotated[str | None, typer.Option("--storage", help="Storage request, e.g. 1Gi.")]
Port = Annotated[
    list[str] | None, typer.Option("--port", help="Exposed port NAME:PORT[/PROTOCOL] (repeatable).")
]
Env = Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE (repeatable).")]
NetworkPolicy = Annotated[
    str | None, typer.Option("--network-policy", help="e.g. none, egress-allowlist, open.")
]
EgressAllow = Annotated[
    list[str] | None, typer.Option("--egress-allow", help="Allowed destination (repeatable).")
]
EgressDeny = Annotated[
    list[str] | None, typer.Option("--egress-deny", help="Denied destination (repeatable).")
]
Metadata = Annotated[str | None, typer.Option("--metadata", help="JSON object, inline or @file.")]
ImagePullPolicy = Annotated[
    str | None,
    typer.Option(
        "--image-pull-policy",
        help="Always, IfNotPresent or Never ('': Kubernetes' rule for the image's tag).",
    ),
]
Build = Annotated[
    str | None,
    typer.Option(
        "--build",
        help='Build recipe as JSON, inline or @file: {"base": "debian:bookworm", "packages":'
        ' [...], "files": [{"path", "content", "mode"}], "user": "user"|"root"}; {} removes it.',
    ),
]
Spec = Annotated[
    str | None,
    typer.Option("--spec", help="Any other fields as a JSON object (camelCase), inline or @file."),
]


@app.command("list")
def list_templates(
    project_id: ProjectOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """Shared templates and, with --project-id, the project's own."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        emit(mbox.templates.list(project_id=project, limit=limit), "EnvironmentTemplate")


@app.command()
def get(template: TemplateArg, project_id: ProjectOpt = None) -> None:
    """One template."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        emit(mbox.templates.find(template, project_id=project))


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    image: Annotated[
        str,
        typer.Option(
            "--image", help="Container image ('host': this machine's /usr, local runtime)."
        ),
    ],
    project_id: ProjectOpt = None,
    slug: Annotated[str | None, typer.Option("--slug", help="URL-safe name.")] = None,
    startup_command: StartupCommand = None,
    working_dir: WorkingDir = None,
    cpu: Cpu = None,
    memory: Memory = None,
    storage: Storage = None,
    port: Port = None,
    env: Env = None,
    network_policy: NetworkPolicy = None,
    egress_allow: EgressAllow = None,
    egress_deny: EgressDeny = None,
    image_pull_policy: ImagePullPolicy = None,
    build: Build = None,
    metadata: Metadata = None,
    spec: Spec = None,
) -> None:
    """Create a template (shared, or the project's own with --project-id)."""
    fields = _fields(
        None, startup_command, working_dir, cpu, memory, storage, port, env,
        network_policy, egress_allow, egress_deny, metadata, spec, image_pull_policy, build,
    )  # fmt: skip
    with client() as mbox:
        if project_id:
            fields["projectId"] = mbox.resolve_project(project_id)
        if slug:
            fields["slug"] = slug
        emit(mbox.templates.create(name, image=image, **fields))


@app.command()
def update(
    template: TemplateArg,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    image: Image = None,
    startup_command: StartupCommand = None,
    working_dir: WorkingDir = None,
    cpu: Cpu = None,
    memory: Memory = None,
    storage: Storage = None,
    port: Port = None,
    env: Env = None,
    network_policy: NetworkPolicy = None,
    egress_allow: EgressAllow = None,
    egress_deny: EgressDeny = None,
    image_pull_policy: ImagePullPolicy = None,
    build: Build = None,
    metadata: Metadata = None,
    spec: Spec = None,
) -> None:
    """Change a template's fields (only those given)."""
    fields = _fields(
        image, startup_command, working_dir, cpu, memory, storage, port, env,
        network_policy, egress_allow, egress_deny, metadata, spec, image_pull_policy, build,
    )  # fmt: skip
    if name is not None:
        fields["name"] = name
    if not fields:
        raise usage_error("nothing to change: give at least one option")
    with client() as mbox:
        emit(mbox.templates.update(template_id(mbox, template), **fields))


@app.command()
def delete(template: TemplateArg) -> None:
    """Delete a template."""
    with client() as mbox:
        mbox.templates.delete(template_id(mbox, template))
    emit_text("deleted")


@app.command()
def boundary(template: TemplateArg, project_id: ProjectOpt = None) -> None:
    """What a sandbox from this template may reach: image, network, secrets, checks."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        emit(mbox.templates.boundary(template_id(mbox, template, project), project_id=project))


@app.command("build")
def build_status(template: TemplateArg, project_id: ProjectOpt = None) -> None:
    """The template's build recipe on the runtime: its state (built, building, failed,
    not-built, unsupported, none), reference, image digest and the build's log."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        result = mbox.templates.build(template_id(mbox, template, project))
    if STATE.format != "table":
        emit(result)
        return
    emit(
        {
            "state": result.state,
            "reference": result.reference or "",
            "digest": result.digest or "",
            "message": result.message or "",
        }
    )
    if result.log:
        emit_text("")
        emit_text(result.log.rstrip("\n"))


@app.command("validate-run")
def validate_run(
    template: TemplateArg,
    project_id: ProjectOpt = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The validation sandbox's name.")
    ] = None,
    metadata: Metadata = None,
) -> None:
    """Launch a validation sandbox from the template (decide it with `decision`)."""
    with client() as mbox:
        project = mbox.resolve_project(project_id) if project_id else None
        emit(
            mbox.templates.validate(
                template_id(mbox, template, project),
                project_id=project,
                name=name,
                metadata=parse_json(metadata),
            )
        )


app.command("validate", hidden=True)(validate_run)


@app.command("decision")
def decision(
    template: TemplateArg,
    sandbox: Annotated[str, typer.Argument(help="The validation sandbox's id.")],
    status: Annotated[str, typer.Option("--status", help="passed or failed.")],
) -> None:
    """Record a validation run as passed or failed."""
    if status not in ("passed", "failed"):
        raise usage_error("--status is passed or failed")
    with client() as mbox:
        emit(mbox.templates.decide(template_id(mbox, template), sandbox, status))


app.command("decide-validation", hidden=True)(decision)
