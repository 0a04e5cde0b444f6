"""What every command shares: the global options, the client they configure, output in
the chosen format, argument parsing helpers and the progress display.

Only `typer` is imported at module level: the SDK, httpx, yaml and rich load inside the
commands that use them, so `mbox --help` starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mbox._sync.client import Mbox
    from mbox._sync.sandbox import Sandbox

OUTPUT_FORMATS = ("json", "table", "yaml")


def complete_sandbox(incomplete: str) -> list[str]:
    """Shell completion of a SANDBOX argument: the slugs the server knows (none when it
    cannot be reached)."""
    try:
        with client() as mbox:
            slugs = [sb.info.slug for sb in mbox.sandboxes.list(limit=500)]
    except Exception:
        return []
    return sorted(slug for slug in slugs if slug.startswith(incomplete))


SandboxArg = Annotated[
    str,
    typer.Argument(
        help="Sandbox id, slug or name.", metavar="SANDBOX", autocompletion=complete_sandbox
    ),
]


@dataclass
class State:
    """The root options of this invocation (flags, else MBOX_* variables)."""

    context: str | None = None
    config: str | None = None
    api_url: str | None = None
    token: str | None = None
    request_id: str | None = None
    audit_actor: str | None = None
    audit_source: str | None = None
    output: str | None = None  # None: not asked for (json by default)
    output_flag: bool = False  # --output given on the command line (not MBOX_OUTPUT)

    @property
    def format(self) -> str:
        return self.output or "json"


STATE = State()


def client() -> Mbox:
    """A client configured by flag > environment > context."""
    from mbox._sync.client import Mbox

    return Mbox(
        api_url=STATE.api_url,
        token=STATE.token,
        context=STATE.context,
        config_file=STATE.config,
        request_id=STATE.request_id,
        audit_actor=STATE.audit_actor,
        audit_source=STATE.audit_source,
    )


def usage_error(message: str) -> typer.BadParameter:
    """Raise the result: exit code 2, with the command's usage line."""
    return typer.BadParameter(message)


# -- argument parsing -----------------------------------------------------------------------


def parse_json(value: str | None, what: str = "--metadata") -> Any:
    """JSON given inline or as @file (None when not given)."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            with open(value[1:]) as source:
                text = source.read()
        except OSError as exc:
            raise usage_error(f"{what}: cannot read {value[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise usage_error(f"{what}: not valid JSON: {exc}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str | None, what: str = "--timeout") -> float | None:
    """Seconds from "90", "90s", "1500ms", "2m", "1h" (None when not given)."""
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match:
        raise usage_error(f"{what}: not a duration (e.g. 90s, 1500ms, 2m): {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_pairs(values: list[str] | None, what: str) -> dict[str, str] | None:
    """KEY=VALUE pairs as a dict (None when none given)."""
    if not values:
        return None
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise usage_error(f"{what}: expected KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def sandbox_id(mbox: Mbox, ref: str) -> str:
    """A sandbox id from an id, a slug or a name."""
    if is_uuid(ref):
        return ref
    from mbox.errors import MboxError, NotFoundError

    found = [sb for sb in mbox.sandboxes.list(limit=500) if ref in (sb.info.slug, sb.name)]
    if not found:
        raise NotFoundError(404, f"no sandbox with id, slug or name {ref!r}")
    if len(found) > 1:
        ids = ", ".join(sb.id for sb in found)
        raise MboxError(f"{len(found)} sandboxes are named {ref!r} ({ids}): give the id")
    return found[0].id


def sandbox(mbox: Mbox, ref: str) -> Sandbox:
    return mbox.sandboxes.get(sandbox_id(mbox, ref))


def project_id(mbox: Mbox, ref: str | None) -> str:
    return mbox.resolve_project(ref)


def template_id(mbox: Mbox, ref: str, project: str | None = None) -> str:
    return ref if is_uuid(ref) else mbox.templates.find(ref, project_id=project).id


# -- output ---------------------------------------------------------------------------------

# Columns of the table format, per kind of record: (header, camelCase field).
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "Project": [
        ("ID", "id"),
        ("SLUG", "slug"),
        ("NAME", "name"),
        ("NAMESPACE", "defaultNamespace"),
        ("CREATED", "createdAt"),
    ],
    "EnvironmentTemplate": [
        ("ID", "id"),
        ("SLUG", "slug"),
        ("NAME", "name"),
        ("IMAGE", "image"),
        ("PROJECT", "projectId"),
    ],
    "Sandbox": [
        ("ID", "id"),
        ("SLUG", "slug"),
        ("NAME", "name"),
        ("STATUS", "status"),
        ("PROJECT", "projectId"),
        ("CREATED", "createdAt"),
    ],
    "ExecutionTask": [
        ("ID", "id"),
        ("STATUS", "status"),
        ("EXIT", "exitCode"),
        ("COMMAND", "command"),
        ("CREATED", "createdAt"),
    ],
    "Artifact": [
        ("ID", "id"),
        ("NAME", "name"),
        ("KIND", "kind"),
        ("URI", "uri"),
        ("BYTES", "sizeBytes"),
        ("CREATED", "createdAt"),
    ],
    "RuntimeSession": [
        ("ID", "id"),
        ("TYPE", "type"),
        ("CLIENT", "client"),
        ("STATUS", "status"),
        ("STARTED", "startedAt"),
    ],
    "ProjectCredential": [
        ("ID", "id"),
        ("SLUG", "slug"),
        ("NAME", "name"),
        ("TYPE", "type"),
        ("TARGET", "target"),
    ],
    "AuditEvent": [
        ("TIME", "createdAt"),
        ("ACTION", "action"),
        ("RESOURCE", "resourceType"),
        ("RESOURCE ID", "resourceId"),
        ("ACTOR", "actor"),
        ("SOURCE", "source"),
    ],
    "RuntimeEvent": [
        ("TIME", "lastTimestamp"),
        ("TYPE", "type"),
        ("REASON", "reason"),
        ("MESSAGE", "message"),
    ],
    "PreviewPort": [
        ("NAME", "name"),
        ("PORT", "port"),
        ("PROTOCOL", "protocol"),
        ("AVAILABLE", "available"),
        ("PREVIEW", "previewUrl"),
    ],
    "Context": [
        ("NAME", "name"),
        ("CURRENT", "current"),
        ("API URL", "apiUrl"),
        ("TOKEN", "hasToken"),
        ("TOKEN ENV", "tokenEnv"),
    ],
    "CachedImage": [
        ("DIGEST", "digest"),
        ("REFERENCES", "references"),
        ("SIZE", "size"),
        ("LAST USED", "lastUsedAt"),
        ("IN USE", "inUse"),
    ],
    "File": [("NAME", "name"), ("TYPE", "type"), ("SIZE", "size")],
}


def to_data(value: Any) -> Any:
    """The API's JSON of a result: models as their camelCase body, lists as {"items": ...}."""
    if isinstance(value, list):
        return {"items": [_plain(item) for item in value]}
    return _plain(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "info") and hasattr(value, "files"):  # a Sandbox handle
        value = value.info
    if hasattr(value, "raw") and hasattr(value, "to_json"):
        return value.raw or value.to_json()
    if hasattr(value, "to_json"):
        return value.to_json()
    return value


def _kind(value: Any) -> str | None:
    if isinstance(value, list):
        return _kind(value[0]) if value else None
    if hasattr(value, "info") and hasattr(value, "files"):
        return "Sandbox"
    name = type(value).__name__
    return name if name in COLUMNS else None


def emit(value: Any, kind: str | None = None) -> None:
    """Print a result in the chosen output format."""
    kind = kind or _kind(value)
    data = to_data(value)
    fmt = STATE.format
    if fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    elif fmt == "table":
        _table(data, kind)
    else:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def emit_text(text: str) -> None:
    """A line for people and pipes alike (deletions, URLs): the same in every format."""
    sys.stdout.write(inert(text) + "\n")
    sys.stdout.flush()


# C0 and C1 control characters but tab and newline: what a sandbox (or another user's
# name for a thing) could use to drive the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert(text: str) -> str:
    """`text` with control characters shown as \\xNN: it cannot move the cursor, clear
    the screen, set the title or write the clipboard."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _cell(value: Any) -> Any:
    """A table cell: plain Text (never Rich markup), control characters made visible."""
    from rich.text import Text

    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    return Text(inert(text))


def _table(data: Any, kind: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    # A terminal gets tables that fit it; a pipe gets whole lines (no folding at 80).
    console = Console(soft_wrap=True, width=None if is_tty(sys.stdout) else 100_000)
    items = data.get("items") if isinstance(data, dict) else None
    if isinstance(items, list):
        columns = COLUMNS.get(kind or "") or _guess_columns(items)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header, _ in columns:
            table.add_column(header, overflow="fold")
        for item in items:
            row = item if isinstance(item, dict) else {"value": item}
            table.add_row(*(_cell(row.get(field)) for _, field in columns))
        console.print(table)
        return
    if isinstance(data, dict):
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in data.items():
            table.add_row(_cell(key), _cell(value))
        console.print(table)
        return
    console.print(_cell(data))


def _guess_columns(items: list[Any]) -> list[tuple[str, str]]:
    first = next((item for item in items if isinstance(item, dict)), None)
    if first is None:
        return [("VALUE", "value")]
    scalar = [k for k, v in first.items() if not isinstance(v, (dict, list))]
    return [(re.sub(r"(?<!^)(?=[A-Z])", " ", key).upper(), key) for key in scalar[:8]]


# -- waiting --------------------------------------------------------------------------------


@contextlib.contextmanager
def progress(label: str) -> Iterator[Callable[[Any], None] | None]:
    """A spinner on stderr naming the phase (only when stderr is a terminal); yields the
    `on_progress` callback for the SDK, or None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True)
    with console.status(Text(inert(f"{label}: pending"))) as status:

        def update(step: Any) -> None:
            status.update(Text(inert(f"{label}: {step}")))

        yield update


# -- errors ---------------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    """The message for `mbox: ...` on stderr: status, request and every broken rule."""
    from mbox.errors import ApiError

    if not isinstance(exc, ApiError):
        return str(exc) or type(exc).__name__
    where = f" ({exc.method} {exc.path})" if exc.method else ""
    lines = [f"{exc.message} [HTTP {exc.status}]{where}"]
    denial = exc.denial
    if denial:
        lines[0] += f" - {denial.get('operation', 'operation')} denied by:"
        for rule in denial.get("rules", []):
            lines.append(f"  - {rule.get('rule')}: {rule.get('message')}")
    if exc.request_id:
        lines.append(f"  request id: {exc.request_id}")
    return "\n".join(lines)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `mbox: message` on stderr; raise the result to exit with `code`."""
    sys.stderr.write(f"mbox: {inert(message)}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def is_tty(stream: Any) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def group(help: str) -> typer.Typer:
    """A command group: plain (fast) help, -h, no completion options of its own."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
