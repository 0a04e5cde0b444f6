"""The root of the `mbox` command tree: the global options and every command group."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mbox.cli import _core

GLOBAL_OPTIONS = frozenset(
    {
        "--context",
        "--config",
        "--api-url",
        "--token",
        "--request-id",
        "--audit-actor",
        "--audit-source",
        "--output",
        "-o",
    }
)

HELP = """Drive an mbox server from the command line.

Configuration: flags, else MBOX_API_URL / MBOX_TOKEN / MBOX_* variables, else the current
context of ~/.mbox/config.json (see `mbox context`). Output: JSON by default (the API's
own), or --output table|yaml. Exit codes: 0 success, 1 API or connection error, 2 usage
error; `tasks run --require-success` exits with the task's exit code.
"""


def _option_names(command: Any) -> dict[str, bool]:
    """The command's option names, each with whether it takes a value."""
    names: dict[str, bool] = {}
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") != "option":
            continue
        takes_value = not (param.is_flag or param.count)
        for name in (*param.opts, *param.secondary_opts):
            names[name] = takes_value
    return names


def hoist_global_options(root: Any, ctx: Any, args: list[str]) -> list[str]:
    """Global options are accepted anywhere before `--` (as the reference CLI does): those
    the chosen command does not define itself move in front of the command path."""
    front: list[str] = []
    rest: list[str] = []
    command = root
    options = _option_names(root)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, _ = arg.partition("=")
        if name in GLOBAL_OPTIONS and command is not root and name not in options:
            size = 1 if eq else 2
            front.extend(args[i : i + size])
            i += size
            continue
        if arg.startswith("-"):
            size = 2 if (not eq and options.get(name)) else 1
            rest.extend(args[i : i + size])
            i += size
            continue
        sub = command.get_command(ctx, arg) if hasattr(command, "get_command") else None
        if sub is not None:
            command = sub
            options = _option_names(command)
        rest.append(arg)
        i += 1
    return front + rest


def _plain_coercion() -> None:
    """Typer (0.29) checks every given value with a pydantic TypeAdapter, importing pydantic
    (~90 ms) in each command. This CLI's parameters are only str, int, bool and list[str]:
    those are converted here directly; anything else still goes to Typer's own."""
    try:
        from typer import core
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # another Typer: its own conversion, only slower
        return
    simple = (str, int, bool, list[str])

    @dataclasses.dataclass(frozen=True)
    class Plain(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.annotation
            if kind == list[str]:
                return [str(item) for item in value]
            if kind is int and not isinstance(value, bool):
                try:
                    return int(value)
                except (TypeError, ValueError):
                    raise typer.BadParameter(
                        f"{value!r} is not a valid integer.", ctx=ctx, param=param
                    ) from None
            if kind is bool and isinstance(value, bool):
                return value
            if kind is str and isinstance(value, str):
                return value
            typer_own = build_runtime_param(param.type_descriptor)
            return typer_own._coerce_value(value, param=param, ctx=ctx)

    original = core._TyperParameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            info = descriptor.parameter_info
            if (
                descriptor.file_annotation is None
                and descriptor.annotation in simple
                and getattr(info, "parser", None) is None
                and getattr(info, "click_type", None) is None
            ):
                self._runtime_param = Plain(parameter_info=info, annotation=descriptor.annotation)
        return original(self)

    core._TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


_plain_coercion()


class RootGroup(TyperGroup):
    """The root command: global options anywhere, command groups built when first used."""

    _built: dict[str, Any]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(self, ctx, list(args)))

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *GROUPS]

    def get_command(self, ctx: Any, name: str) -> Any:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        group = ALIASES.get(name, name)
        if group not in GROUPS:
            return None
        built = self.__dict__.setdefault("_built", {})
        if group not in built:
            built[group] = typer.main.get_command(_group_app(group))
            built[group].name = group
        command = built[group]
        if name != group:  # a hidden alias: the same commands under another name
            alias = copy.copy(command)
            alias.name, alias.hidden = name, True
            return alias
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list, groups' help read from their Typer apps (none is built)."""
        rows = []
        names = [*super().list_commands(ctx), *GROUPS]
        limit = formatter.width - 6 - max(len(name) for name in names)
        for name in super().list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        for name in GROUPS:
            help_text = (_group_app(name).info.help or "").strip().splitlines()[0]
            rows.append((name, help_text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _group_app(name: str) -> typer.Typer:
    return importlib.import_module(GROUPS[name][0]).app


app = typer.Typer(
    name="mbox",
    help=HELP,
    cls=RootGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _output(value: str | None) -> str | None:
    if value is not None and value not in _core.OUTPUT_FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of json, table, yaml")
    return value


def _version(value: bool) -> None:
    if value:
        from mbox import __version__

        typer.echo(f"mbox {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[
        str | None,
        typer.Option(
            "--context", envvar="MBOX_CONTEXT", help="The context to use (default: current)."
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            envvar="MBOX_CONFIG",
            help="The contexts file (default: ~/.mbox/config.json).",
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="The server, e.g. http://127.0.0.1:3000.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="API token (default: MBOX_TOKEN, the context).")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="X-Mbox-Request-ID for every request.")
    ] = None,
    audit_actor: Annotated[
        str | None, typer.Option("--audit-actor", help="X-Mbox-Audit-Actor: who, for the audit.")
    ] = None,
    audit_source: Annotated[
        str | None,
        typer.Option("--audit-source", help="X-Mbox-Audit-Source: from where, for the audit."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            envvar="MBOX_OUTPUT",
            callback=_output,
            metavar="json|table|yaml",
            help="Output format (default json).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _core.STATE.__init__(  # type: ignore[misc]
        context=context,
        config=config,
        api_url=api_url,
        token=token,
        request_id=request_id,
        audit_actor=audit_actor,
        audit_source=audit_source,
        output=output,
        output_flag=_from_command_line(ctx, "output"),
    )


def _from_command_line(ctx: Any, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return getattr(source, "name", "") == "COMMANDLINE"


# The command groups, built only when used (Typer inspects every command's signature to
# build it; doing that for the whole tree would double `mbox --help`'s start-up time).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "context": ("mbox.cli.contexts", ("contexts",)),
    "projects": ("mbox.cli.projects", ("project",)),
    "templates": ("mbox.cli.templates", ("template",)),
    "sandboxes": ("mbox.cli.sandboxes", ("sandbox",)),
    "sessions": ("mbox.cli.sessions", ("session",)),
    "tasks": ("mbox.cli.tasks", ("task",)),
    "code": ("mbox.cli.code", ()),
    "artifacts": ("mbox.cli.artifacts", ("artifact",)),
    "credentials": ("mbox.cli.credentials", ("credential",)),
    "runtime": ("mbox.cli.runtime", ()),
}
ALIASES = {alias: name for name, (_, aliases) in GROUPS.items() for alias in aliases}


def _register() -> None:
    from mbox.cli import audit, misc, sandboxes, workspace

    misc.register(app)
    audit.register(app)
    sandboxes.register_shortcuts(app)
    workspace.register(app)


_register()


def main() -> None:
    """The console script: run the command; API and connection errors exit 1 with
    `mbox: <message>` on stderr, usage errors 2 (click's own)."""
    try:
        app()
    except BrokenPipeError:  # `mbox ... | head`: the reader has gone; so do we, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
    except Exception as exc:
        from mbox.config import ConfigError
        from mbox.errors import MboxError

        if isinstance(exc, (MboxError, ConfigError)):
            sys.stderr.write(f"mbox: {_core.describe(exc)}\n")
            sys.exit(1)
        raise
