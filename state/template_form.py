"""The template dialog's form: its fields as text, the runtime and size presets, and the
conversion between that text and the service's request fields.

Only syntax is checked here ("web:3000, api:8080", KEY=VALUE lines, a shell command); every
other rule, and its message, is the service's.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

from backend.errors import InvalidInput
from backend.templates.models import TemplateRow

GLOBAL = "global"  # the scope value of a global template
CUSTOM = "Custom"
# Runtime types and what choosing one presets on a new template: image, use case, ports.
RUNTIMES: dict[str, tuple[str, str, str]] = {
    "Node.js": ("node:22-bookworm-slim", "A web app or API", "web:3000"),
    "Python": ("python:3.12-bookworm", "Scripts, data work and tests", "http:8000"),
    "Go": ("golang:1.24-bookworm", "An HTTP service", "api:8080"),
    "Browser": ("mcr.microsoft.com/playwright:v1.57.0-noble", "Browser automation", ""),
    "Notebook": ("python:3.12-bookworm", "Jupyter notebooks", "notebook:8888"),
    CUSTOM: ("", "", ""),
}
# Size presets: (CPU, memory) requests.
SIZES: dict[str, tuple[str, str]] = {
    "Small": ("250m", "512Mi"),
    "Medium": ("500m", "1Gi"),
    "Large": ("1000m", "2Gi"),
}
NETWORK_POLICIES = ("default", "restricted", "open")
# Image pull policies; "default" (a select item cannot be "") sends "": Kubernetes' rule
# for the image's tag.
DEFAULT_PULL = "default"
PULL_POLICIES = (DEFAULT_PULL, "Always", "IfNotPresent", "Never")


def ready_command(runtime: str) -> str:
    """A startup command that keeps the sandbox up, as the reference's defaults do."""
    kind = runtime.lower().replace(".", "")
    script = f"mkdir -p /workspace && cd /workspace && echo mbox {kind} sandbox ready"
    return shlex.join(["sh", "-c", f"{script} && tail -f /dev/null"])


def parse_ports(text: str) -> list[dict[str, Any]]:
    """`web:3000, api:8080` (a bare `8080` is named `port-8080`) into declared ports."""
    ports = []
    for entry in (part.strip() for part in text.replace("\n", ",").split(",")):
        if not entry:
            continue
        name, _, number = entry.rpartition(":")
        if not number.strip().isdigit():
            raise InvalidInput(
                f'Preview ports: "{entry}" is not name:port (e.g. web:3000)', field="exposedPorts"
            )
        port = int(number)
        ports.append({"name": name.strip() or f"port-{port}", "port": port})
    return ports


def parse_command(text: str) -> list[str]:
    """A JSON array of arguments, or a shell-quoted line (`sh -c '...'`)."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not all(isinstance(arg, str) for arg in value):
            raise InvalidInput(
                "Startup command: a JSON array must hold only strings", field="startupCommand"
            )
        return value
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise InvalidInput(f"Startup command: {exc}", field="startupCommand") from None


def parse_env(text: str) -> dict[str, str]:
    env = {}
    for line in (line.strip() for line in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InvalidInput(f'Environment: "{line}" is not KEY=VALUE', field="env")
        env[key.strip()] = value
    return env


def parse_secret_refs(text: str) -> list[dict[str, str]]:
    """`git-token:token, npmrc` into secret references (`name` or `name:key`)."""
    refs = []
    for entry in (part.strip() for part in text.replace("\n", ",").split(",")):
        if entry:
            name, _, key = entry.partition(":")
            refs.append({"name": name.strip(), **({"key": key.strip()} if key.strip() else {})})
    return refs


def parse_seconds(text: str, label: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise InvalidInput(f"{label} must be a whole number of seconds above 0", field=field)
    return int(text)


def parse_pool_size(text: str) -> int | None:
    """A warm pool size; empty is the server's default (the service checks the range)."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("Warm pool size must be a whole number", field="warmPoolSize") from None


def parse_build(text: str) -> dict[str, Any]:
    """A build recipe as JSON (an object); blank is none ({}). The recipe's rules and their
    words are the service's."""
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"Build recipe: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            field="build",
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            'Build recipe: a JSON object such as {"base": "debian:bookworm"}', field="build"
        )
    return value


def build_text(recipe: dict[str, Any]) -> str:
    return json.dumps(recipe, indent=2) if recipe else ""


def ports_text(ports: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['name']}:{p['port']}" for p in ports)


def secrets_text(refs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['name']}:{r['key']}" if r.get("key") else r["name"] for r in refs)


def size_preset(cpu: str, memory: str) -> str:
    for name, pair in SIZES.items():
        if pair == (cpu.strip(), memory.strip()):
            return name
    return CUSTOM


def entrypoints(ports: list[dict[str, Any]]) -> str:
    """`Terminal, web :3000`: how people get into a sandbox of this template."""
    return ", ".join(["Terminal", *(f"{p['name']} :{p['port']}" for p in ports)])


# The service's request fields (camelCase paths) to the dialog's text fields (TemplateForm's);
# a refusal about another field is said above the dialog's buttons.
FORM_FIELDS = {
    "name": "name",
    "slug": "slug",
    "image": "image",
    "startupCommand": "command",
    "workingDir": "working_dir",
    "cpuRequest": "cpu",
    "memoryRequest": "memory",
    "storageRequest": "storage",
    "exposedPorts": "ports",
    "env": "env",
    "secretRefs": "secrets",
    "lifecyclePolicy.ttlSeconds": "ttl",
    "lifecyclePolicy.idleTimeoutSeconds": "idle",
    "lifecyclePolicy": "ttl",
    "runtimeClassName": "runtime_class",
    "warmPoolSize": "warm_pool",
    "build": "build",
    "metadata": "use_case",
}

# The dialog's fields under "Advanced" (folded until an error names one of them).
ADVANCED = frozenset(FORM_FIELDS.values()) - {"name", "ports", "use_case"}


@dataclasses.dataclass
class TemplateForm:
    """The dialog's fields, as text."""

    scope: str = GLOBAL
    name: str = ""
    runtime_type: str = "Node.js"
    size: str = "Small"
    use_case: str = RUNTIMES["Node.js"][1]
    ports: str = RUNTIMES["Node.js"][2]
    slug: str = ""
    image: str = RUNTIMES["Node.js"][0]
    command: str = ready_command("Node.js")
    working_dir: str = "/workspace"
    cpu: str = SIZES["Small"][0]
    memory: str = SIZES["Small"][1]
    storage: str = "2Gi"
    env: str = ""
    secrets: str = ""
    network: str = "default"
    ttl: str = ""
    idle: str = ""
    runtime_class: str = ""  # Kubernetes only, as warm_pool
    warm_pool: str = ""
    pull_policy: str = DEFAULT_PULL
    build: str = ""  # the build recipe as JSON; blank: none
    make_default: bool = False


def form_of(row: TemplateRow) -> TemplateForm:
    meta = meta_of(row)
    lifecycle = row.lifecycle_policy
    return TemplateForm(
        scope=str(row.project_id) if row.project_id else GLOBAL,
        name=row.name,
        runtime_type=str(meta.get("runtimeType") or CUSTOM),
        size=size_preset(row.cpu_request, row.memory_request),
        use_case=str(meta.get("useCase") or ""),
        ports=ports_text(row.exposed_ports),
        slug=row.slug,
        image=row.image,
        command=shlex.join(row.startup_command),
        working_dir=row.working_dir,
        cpu=row.cpu_request,
        memory=row.memory_request,
        storage=row.storage_request,
        env="\n".join(f"{k}={v}" for k, v in row.env.items()),
        secrets=secrets_text(row.secret_refs),
        network=row.network_policy,
        ttl=str(lifecycle.get("ttlSeconds") or ""),
        idle=str(lifecycle.get("idleTimeoutSeconds") or ""),
        runtime_class=row.runtime_class_name,
        warm_pool="" if row.warm_pool_size is None else str(row.warm_pool_size),
        pull_policy=row.image_pull_policy or DEFAULT_PULL,
        build=build_text(row.build),
    )


def launch_fields(form: TemplateForm) -> dict[str, Any]:
    """The wire fields that shape a launch (a change to any of them voids a validation)."""
    lifecycle = {
        "ttlSeconds": parse_seconds(form.ttl, "TTL", "lifecyclePolicy.ttlSeconds"),
        "idleTimeoutSeconds": parse_seconds(
            form.idle, "Idle timeout", "lifecyclePolicy.idleTimeoutSeconds"
        ),
    }
    return {
        "image": form.image,
        "startupCommand": parse_command(form.command),
        "workingDir": form.working_dir,
        "cpuRequest": form.cpu,
        "memoryRequest": form.memory,
        "storageRequest": form.storage,
        "exposedPorts": parse_ports(form.ports),
        "env": parse_env(form.env),
        "secretRefs": parse_secret_refs(form.secrets),
        "networkPolicy": form.network,
        "lifecyclePolicy": {k: v for k, v in lifecycle.items() if v is not None},
        "runtimeClassName": form.runtime_class,
        "imagePullPolicy": "" if form.pull_policy == DEFAULT_PULL else form.pull_policy,
        "build": parse_build(form.build),
    }


def pool_fields(form: TemplateForm) -> dict[str, Any]:
    """How many sandboxes to keep warm: not what runs, so it voids no validation."""
    return {"warmPoolSize": parse_pool_size(form.warm_pool)}


def labels(form: TemplateForm) -> dict[str, str]:
    """The metadata the library shows: runtime type, use case and size preset."""
    return {"runtimeType": form.runtime_type, "useCase": form.use_case, "resourcePreset": form.size}


def meta_of(row: TemplateRow) -> dict[str, Any]:
    """A template's metadata when it is an object (it may be any JSON)."""
    return row.meta if isinstance(row.meta, dict) else {}
