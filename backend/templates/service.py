"""Environment templates: global or project-scoped launch recipes."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic.alias_generators import to_camel
from sqlmodel import Session, col, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, InvalidInput
from backend.projects.models import ProjectRow
from backend.templates.models import (
    DEFAULT_WORKING_DIR,
    IMAGE_PULL_POLICIES,
    NETWORK_POLICIES,
    SecretRefInput,
    TemplateCreate,
    TemplateFields,
    TemplatePortInput,
    TemplateRow,
    TemplateUpdate,
)
from backend.validation import (
    about,
    blank,
    check_name,
    dns_subdomain,
    image_reference,
    metadata_value,
    name_and_slug,
    optional_uuid,
    port_name,
    quantity,
    required,
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_WORKING_DIR = 1024
SYSTEM_DIRECTORIES = (
    "/bin", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
    "/sbin", "/sys", "/tmp", "/usr",
)  # fmt: skip
LIFECYCLE_KEYS = ("ttlSeconds", "idleTimeoutSeconds")
MAX_COMMAND_ARGS = 64
MAX_EGRESS_CIDRS = 64  # per list
# The contract's words for a create without them; detail.field says which one.
REQUIRED = "name, valid slug, and image are required"
MAX_WARM_POOL = 100  # as the server's kube_warm_pool
# Build recipes: a Debian base of these suites, Debian package names, files added.
BUILD_BASE = re.compile(r"^debian:(bookworm|trixie)$")
BUILD_KEYS = ("base", "packages", "files", "run", "verify", "user")
BUILD_USERS = ("user", "root")
DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,99}$")
MAX_BUILD_PACKAGES = 200
MAX_BUILD_FILES = 64
MAX_BUILD_FILE_BYTES = 256 * 1024  # all files together
MAX_BUILD_STEPS = 32
MAX_BUILD_COMMAND = 4096  # characters in one run step or the verify command
FILE_MODE = re.compile(r"^0?[0-7]{3}$")
BUILD_FILE_PLACES = ("/proc", "/sys", "/dev")  # made by the runtime at launch
# Fields whose null is a value (stored), not "keep": metadata, and a warm pool size that
# goes back to the server's default.
NULLABLE_FIELDS = ("metadata", "warm_pool_size")


# Checks an edited template must pass before it is saved, registered by the layers above
# (this one may not import them): backend.sandboxes.service refuses an edit that the launch
# policy of the template's live sandboxes would deny.
EDIT_CHECKS: list[Callable[[Session, Principal, TemplateRow], None]] = []


def list_templates(
    db: Session, *, project_id: uuid.UUID | None = None, limit: int | None = None
) -> list[TemplateRow]:
    """All templates, or a project's plus the global ones; globals first, then newest."""
    query = select(TemplateRow)
    if project_id is not None:
        query = query.where(
            (TemplateRow.project_id == project_id) | col(TemplateRow.project_id).is_(None)
        )
    query = query.order_by(
        col(TemplateRow.project_id).is_not(None),
        col(TemplateRow.created_at).desc(),
        col(TemplateRow.id),
    )
    return list(db.exec(query.limit(limit)))


def get_template(db: Session, template_id: uuid.UUID) -> TemplateRow:
    return get_row(db, TemplateRow, template_id)


def create_template(db: Session, *, principal: Principal, data: TemplateCreate) -> TemplateRow:
    with about("projectId"):
        project_id = optional_uuid(data.project_id, "projectId must be a project UUID")
    may_change(principal, project_id)
    name, slug = name_and_slug(data.name, data.slug, REQUIRED)
    image = image_reference(required(data.image, "image", REQUIRED))
    if project_id is not None:
        get_row(db, ProjectRow, project_id, "project not found")
    _ensure_unique_slug(db, project_id, slug)
    template = TemplateRow(project_id=project_id, name=name, slug=slug, image=image)
    _apply_fields(template, data)
    db.add(template)
    audit.service.record_change(
        db,
        principal=principal,
        action="template.created",
        subject=template,
        metadata={"scope": "project" if project_id else "global", "image": template.image},
    )
    commit(db)
    return template


def update_template(
    db: Session, *, principal: Principal, template_id: uuid.UUID, data: TemplateUpdate
) -> TemplateRow:
    template = get_template(db, template_id)
    may_change(principal, template.project_id)
    for field in ("name", "image"):
        if data.given(field) and getattr(data, field) is not None:
            required(getattr(data, field), field, f"{field} cannot be empty")
    _apply_fields(template, data)
    for check in EDIT_CHECKS:
        check(db, principal, template)
    template.updated_at = utcnow()
    audit.service.record_change(
        db,
        principal=principal,
        action="template.updated",
        subject=template,
        metadata={"fields": data.sent_fields()},
    )
    commit(db)
    return template


def delete_template(db: Session, *, principal: Principal, template_id: uuid.UUID) -> None:
    """Refused while a sandbox that is active, or deleted but awaiting runtime cleanup, uses
    it: its hold row (ON DELETE RESTRICT) makes the database refuse the delete."""
    template = get_template(db, template_id)
    may_change(principal, template.project_id)
    audit.service.record_change(
        db,
        principal=principal,
        action="template.deleted",
        subject=template,
        metadata={"image": template.image},
    )
    db.delete(template)
    commit(db, restricted="template is still used by sandboxes; delete them before the template")


def check_launchable(template: TemplateRow) -> None:
    """A template stored before the value rules may hold what Kubernetes refuses (an image
    or quantity it cannot read, a port name it rejects): launching or starting from it is
    refused, pointing at the template, until the template is edited."""
    try:
        image_reference(template.image)
        for name in ("cpu_request", "memory_request", "storage_request"):
            _NORMALIZERS[name](getattr(template, name))
        for index, port in enumerate(template.exposed_ports):
            port_name(port.get("name"), f"exposedPorts[{index}].name")
    except InvalidInput as exc:
        raise InvalidInput(
            f'template "{template.slug}" must be edited before it can launch: {exc.message}',
            field="templateId",
        ) from None


def may_change(principal: Principal, project_id: uuid.UUID | None) -> None:
    """A project's templates are its developers' to change; shared (global) templates
    are governed: only unscoped operators and admins change them."""
    if project_id is None:
        access.require_global(principal, Permission.GOVERN)
    else:
        access.require(principal, Permission.OPERATE, project_id)


def _ensure_unique_slug(db: Session, project_id: uuid.UUID | None, slug: str) -> None:
    scope = (
        col(TemplateRow.project_id).is_(None)
        if project_id is None
        else TemplateRow.project_id == project_id
    )
    if db.exec(select(TemplateRow.id).where(scope, TemplateRow.slug == slug)).first():
        where = "global templates" if project_id is None else "this project"
        raise Conflict(f'a template with slug "{slug}" already exists in {where}', field="slug")


def _apply_fields(template: TemplateRow, data: TemplateFields) -> None:
    """Validate and copy every field the client sent (null keeps the stored value, except
    in NULLABLE_FIELDS)."""
    sent = {name: getattr(data, name) for name in data.model_fields_set}
    sent = {
        name: value for name, value in sent.items() if value is not None or name in NULLABLE_FIELDS
    }
    for name, value in sent.items():
        if name in _NORMALIZERS:
            with about(to_camel(name)):
                setattr(template, _COLUMNS.get(name, name), _NORMALIZERS[name](value))


def _command(value: list[str]) -> list[str]:
    if len(value) > MAX_COMMAND_ARGS:
        raise InvalidInput(f"startupCommand has more than {MAX_COMMAND_ARGS} arguments")
    if any(not arg for arg in value):
        raise InvalidInput("startupCommand arguments cannot be empty")
    return list(value)


def _working_dir(value: str) -> str:
    path = value.strip() or DEFAULT_WORKING_DIR
    if not path.startswith("/") or "\x00" in path or ".." in path.split("/"):
        raise InvalidInput("workingDir must be an absolute path without '..'")
    if len(path) > MAX_WORKING_DIR:
        raise InvalidInput(f"workingDir is longer than {MAX_WORKING_DIR} characters")
    top = "/" + path.strip("/").split("/")[0]
    if top == "/" or top in SYSTEM_DIRECTORIES:
        # The workspace is mounted writable at workingDir: over /dev or /proc it would
        # hand the sandbox what its isolation (and the server's terminals) rely on.
        raise InvalidInput(
            f"workingDir cannot be / or inside a system directory ({', '.join(SYSTEM_DIRECTORIES)})"
        )
    return path


def normalize_ports(
    ports: list[TemplatePortInput], *, default_protocol: str = "", field: str = "exposedPorts"
) -> list[dict]:
    """Check declared ports: a Kubernetes port name, 1..65535, TCP or UDP, each number and
    name declared once. Errors name the port's field (`exposedPorts[0].name`)."""
    result: list[dict[str, Any]] = []
    for index, port in enumerate(ports):
        where = f"{field}[{index}]"
        name = port_name(port.name, f"{where}.name")
        if port.port is None or not 1 <= port.port <= 65535:
            raise InvalidInput("port must be between 1 and 65535", field=f"{where}.port")
        protocol = (port.protocol or "").strip().upper() or default_protocol
        if protocol not in ("", "TCP", "UDP"):
            raise InvalidInput("port protocol must be TCP or UDP", field=f"{where}.protocol")
        if any(seen["port"] == port.port for seen in result):
            raise InvalidInput(
                f"port {port.port} is declared more than once", field=f"{where}.port"
            )
        if any(seen["name"] == name for seen in result):
            raise InvalidInput(
                f'port name "{name}" is declared more than once', field=f"{where}.name"
            )
        result.append({"name": name, "port": port.port, "protocol": protocol})
    return result


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("env must be an object of string values")
    for key in value:
        if not ENV_NAME.match(key):
            raise InvalidInput(f'env name "{key}" is invalid (letters, digits and _ only)')
    return dict(value)


def _secret_refs(value: list[SecretRefInput]) -> list[dict[str, str]]:
    refs = []
    for index, ref in enumerate(value):
        if blank(ref.name):
            raise InvalidInput("secretRefs[].name is required", field=f"secretRefs[{index}].name")
        entry = {"name": ref.name.strip()}
        if not blank(ref.key):
            entry["key"] = ref.key.strip()
        refs.append(entry)
    return refs


def _network_policy(value: str) -> str:
    policy = value.strip() or "default"
    if policy not in NETWORK_POLICIES:
        raise InvalidInput("networkPolicy must be default, restricted or open")
    return policy


def _cidrs(field: str) -> Callable[[list[str]], list[str]]:
    """An egress list's normalizer: IPv4 CIDRs (a bare address is a /32) without host
    bits, each once, at most MAX_EGRESS_CIDRS. Sandboxes have no IPv6."""

    def normalize(values: list[str]) -> list[str]:
        if len(values) > MAX_EGRESS_CIDRS:
            raise InvalidInput(f"{field} has more than {MAX_EGRESS_CIDRS} entries")
        cidrs: list[str] = []
        for value in values:
            try:
                network = ipaddress.ip_network(value.strip())
            except ValueError:
                shown = value[:64]
                raise InvalidInput(
                    f'{field}: "{shown}" is not a CIDR such as 10.1.0.0/16 (no host bits)'
                ) from None
            if network.version != 4:
                raise InvalidInput(f'{field}: "{value}" is IPv6; sandboxes have IPv4 only')
            if str(network) not in cidrs:
                cidrs.append(str(network))
        return cidrs

    return normalize


def _runtime_class_name(value: str) -> str:
    """A Kubernetes RuntimeClass (e.g. gvisor, kata-qemu); "" clears it."""
    return dns_subdomain(value, "runtimeClassName", "gvisor or kata-qemu")


def _warm_pool_size(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_WARM_POOL:
        raise InvalidInput(f"warmPoolSize must be between 0 and {MAX_WARM_POOL}")
    return value


def _image_pull_policy(value: str) -> str:
    policy = value.strip()
    if policy and policy not in IMAGE_PULL_POLICIES:
        raise InvalidInput(f"imagePullPolicy must be {', '.join(IMAGE_PULL_POLICIES)} or empty")
    return policy


def _build(value: Any) -> dict[str, Any]:
    """A build recipe, checked and stored in its full shape; {} removes it."""
    if value == {}:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("build must be an object (a recipe) or {} for none")
    unknown = sorted(set(value) - set(BUILD_KEYS))
    if unknown:
        raise InvalidInput(
            f'build has unknown field "{unknown[0]}" (known: {", ".join(BUILD_KEYS)})'
        )
    base = value.get("base")
    if not isinstance(base, str) or not BUILD_BASE.match(base.strip()):
        raise InvalidInput("build.base must be debian:bookworm or debian:trixie")
    user = value.get("user", "user")
    if user not in BUILD_USERS:
        raise InvalidInput("build.user must be user or root")
    return {
        "base": base.strip(),
        "packages": _build_packages(value.get("packages", [])),
        "files": _build_files(value.get("files", [])),
        "run": _build_steps(value.get("run", [])),
        "verify": _build_command("build.verify", value.get("verify", ""), optional=True),
        "user": user,
    }


def _build_steps(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_BUILD_STEPS:
        raise InvalidInput(f"build.run must be a list of at most {MAX_BUILD_STEPS} shell commands")
    return [_build_command("build.run[]", step) for step in value]


def _build_command(field: str, value: Any, *, optional: bool = False) -> str:
    """A shell command (sh -c) of a build: text, one line or many, without NUL."""
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_BUILD_COMMAND:
        raise InvalidInput(
            f"{field} must be a shell command of at most {MAX_BUILD_COMMAND} characters"
        )
    if not value.strip() and not optional:
        raise InvalidInput(f"{field} must not be empty")
    return value.strip()


def _build_packages(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_BUILD_PACKAGES:
        raise InvalidInput(f"build.packages must be a list of at most {MAX_BUILD_PACKAGES} names")
    for name in value:
        if not isinstance(name, str) or not DEBIAN_PACKAGE.match(name):
            shown = str(name)[:64]
            raise InvalidInput(f'build.packages: "{shown}" is not a Debian package name')
    return sorted(set(value))


def _build_files(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_BUILD_FILES:
        raise InvalidInput(f"build.files must be a list of at most {MAX_BUILD_FILES} files")
    files, total = [], 0
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"path", "content", "mode"}:
            raise InvalidInput("build.files[] must be objects with path, content and mode")
        path, content = entry.get("path"), entry.get("content", "")
        mode = entry.get("mode", "0644")
        if not isinstance(path, str) or not _build_path_ok(path):
            raise InvalidInput(
                "build.files[].path must be an absolute path without '..', not under "
                + ", ".join(BUILD_FILE_PLACES)
            )
        if not isinstance(content, str) or not isinstance(mode, str) or not FILE_MODE.match(mode):
            raise InvalidInput('build.files[] need text content and an octal mode such as "0644"')
        total += len(content.encode())
        if total > MAX_BUILD_FILE_BYTES:
            raise InvalidInput(f"build.files hold more than {MAX_BUILD_FILE_BYTES} bytes")
        files.append({"path": path, "content": content, "mode": mode.rjust(4, "0")})
    return files


def _build_path_ok(path: str) -> bool:
    pieces = path.split("/")
    if not path.startswith("/") or "\x00" in path or ".." in pieces or len(path) > 1024:
        return False
    return path.rstrip("/") != "" and not any(
        path == place or path.startswith(place + "/") for place in BUILD_FILE_PLACES
    )


def _lifecycle(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidInput("lifecyclePolicy must be an object")
    for key, seconds in value.items():
        if key not in LIFECYCLE_KEYS:
            raise InvalidInput(
                f'lifecyclePolicy has unknown field "{key}" (known: ttlSeconds, idleTimeoutSeconds)'
            )
        if type(seconds) is not int or seconds <= 0:
            raise InvalidInput(f"lifecyclePolicy.{key} must be a positive integer")
    return dict(value)


_NORMALIZERS = {
    "name": check_name,
    "image": image_reference,
    "startup_command": _command,
    "working_dir": _working_dir,
    "cpu_request": partial(quantity, field="cpuRequest", example="500m or 2"),
    "memory_request": partial(quantity, field="memoryRequest", example="512Mi or 2Gi"),
    "storage_request": partial(quantity, field="storageRequest", example="10Gi"),
    "exposed_ports": normalize_ports,
    "env": _env,
    "secret_refs": _secret_refs,
    "network_policy": _network_policy,
    "egress_allow": _cidrs("egressAllow"),
    "egress_deny": _cidrs("egressDeny"),
    "runtime_class_name": _runtime_class_name,
    "warm_pool_size": _warm_pool_size,
    "image_pull_policy": _image_pull_policy,
    "build": _build,
    "lifecycle_policy": _lifecycle,
    "metadata": metadata_value,
}
_COLUMNS = {"metadata": "meta"}
