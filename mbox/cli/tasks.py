"""`mbox tasks`: run commands in a sandbox, stream their output, wait, cancel.

The command is given after `--` (`mbox tasks run SB -- python3 -c 'print(1)'`), or as the
reference CLI takes it: `--arg` (repeated), `--command "sh,-lc,echo ok"` (comma-split) or
`--command-json '["sh","-lc","echo ok"]'`.
"""

import json
import sys
from typing import Annotated, Any

import typer

from mbox.cli._core import (
    STATE,
    SandboxArg,
    client,
    emit,
    fail,
    group,
    parse_duration,
    parse_json,
    parse_pairs,
    sandbox_id,
    usage_error,
)

app = group("Tasks: run commands in sandboxes, stream output, wait, cancel.")

TaskArg = Annotated[str, typer.Argument(help="Task id.", metavar="TASK")]
Argv = Annotated[
    list[str] | None,
    typer.Argument(help="The command and its arguments, after --.", metavar="COMMAND"),
]
ArgOpt = Annotated[list[str] | None, typer.Option("--arg", help="One argv element (repeatable).")]
CommandOpt = Annotated[
    str | None, typer.Option("--command", help='Comma-separated argv, e.g. "sh,-lc,echo ok".')
]
CommandJson = Annotated[
    str | None, typer.Option("--command-json", help='Argv as JSON, e.g. ["sh","-lc","echo ok"].')
]
TaskTimeout = Annotated[
    int | None, typer.Option("--timeout", help="The task's own limit in seconds (server default).")
]
Env = Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE (repeatable).")]
Cwd = Annotated[str | None, typer.Option("--cwd", help="Working directory in the workspace.")]
ArtifactPath = Annotated[
    list[str] | None,
    typer.Option("--artifact-path", help="A workspace path kept as an artifact (repeatable)."),
]
Metadata = Annotated[str | None, typer.Option("--metadata", help="JSON object, inline or @file.")]
RequireSuccess = Annotated[
    bool,
    typer.Option(
        "--require-success",
        help="Exit with the task's exit code unless it succeeded (1 when it has none).",
    ),
]


def _argv(
    argv: list[str] | None, arg: list[str] | None, command: str | None, command_json: str | None
) -> list[str]:
    forms = [form for form in (argv, arg, command, command_json) if form]
    if len(forms) != 1:
        raise usage_error("give the command once: after --, or --arg, --command or --command-json")
    if command_json:
        value = parse_json(command_json, "--command-json")
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise usage_error("--command-json must be a JSON array of strings")
        return value
    if command:
        return command.split(",")
    return list(argv or arg or [])


def _options(
    timeout: int | None,
    env: list[str] | None,
    cwd: str | None,
    artifact_path: list[str] | None,
    metadata: str | None,
) -> dict[str, Any]:
    return {
        "timeout": timeout,
        "env": parse_pairs(env, "--env"),
        "cwd": cwd,
        "artifact_paths": artifact_path or None,
        "metadata": parse_json(metadata),
    }


def _finish(task: Any, require_success: bool) -> None:
    """With --require-success, exit as the task did."""
    if not require_success or task.status == "succeeded":
        return
    if task.exit_code:
        raise typer.Exit(task.exit_code)
    detail = f": {task.error}" if getattr(task, "error", None) else ""
    raise fail(f"task {task.id} {task.status}{detail}")


@app.command("list")
def list_tasks(
    sandbox: SandboxArg,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """A sandbox's tasks."""
    with client() as mbox:
        emit(mbox.tasks.list(sandbox_id(mbox, sandbox), limit=limit), "ExecutionTask")


@app.command()
def create(
    sandbox: SandboxArg,
    argv: Argv = None,
    arg: ArgOpt = None,
    command: CommandOpt = None,
    command_json: CommandJson = None,
    timeout: TaskTimeout = None,
    env: Env = None,
    cwd: Cwd = None,
    artifact_path: ArtifactPath = None,
    metadata: Metadata = None,
) -> None:
    """Queue a command and return at once (follow with watch, wait or cancel)."""
    command_line = _argv(argv, arg, command, command_json)
    options = _options(timeout, env, cwd, artifact_path, metadata)
    with client() as mbox:
        emit(mbox.tasks.create(sandbox_id(mbox, sandbox), command_line, **options))


@app.command()
def run(
    sandbox: SandboxArg,
    argv: Argv = None,
    arg: ArgOpt = None,
    command: CommandOpt = None,
    command_json: CommandJson = None,
    timeout: TaskTimeout = None,
    env: Env = None,
    cwd: Cwd = None,
    artifact_path: ArtifactPath = None,
    metadata: Metadata = None,
    require_success: RequireSuccess = False,
) -> None:
    """Run a command to its end, its stdout and stderr streamed live to this terminal's
    (nothing else printed; Ctrl-C cancels it); with --output, print the finished task
    instead."""
    command_line = _argv(argv, arg, command, command_json)
    options = _options(timeout, env, cwd, artifact_path, metadata)
    with client() as mbox:
        target = sandbox_id(mbox, sandbox)
        if STATE.output_flag:
            task = mbox.tasks.run(target, command_line, **options)
            emit(task)
        else:
            task = _stream(mbox, mbox.tasks.create(target, command_line, **options))
    _finish(task, require_success)


def _stream(mbox: Any, task: Any) -> Any:
    """The task's output to this terminal's stdout and stderr as it comes; the finished
    task. Interrupted (Ctrl-C), the task is canceled."""
    from mbox._sync.tasks import FINISHED

    try:
        for event in mbox.tasks.events(task.id):
            if event.type == "output" and event.data:
                stream = sys.stdout if event.stream == "stdout" else sys.stderr
                stream.write(event.data)
                stream.flush()
            elif event.type == "done" and event.task is not None:
                task = event.task
        return task if task.status in FINISHED else mbox.tasks.wait(task.id)
    except KeyboardInterrupt:
        mbox.tasks.cancel(task.id)
        raise fail(f"canceled task {task.id}", 130) from None


@app.command()
def get(task: TaskArg) -> None:
    """One task (status, exit code, the first 64 KiB of its output)."""
    with client() as mbox:
        emit(mbox.tasks.get(task))


@app.command()
def cancel(task: TaskArg) -> None:
    """Cancel a queued or running task."""
    with client() as mbox:
        emit(mbox.tasks.cancel(task))


@app.command()
def watch(task: TaskArg, require_success: RequireSuccess = False) -> None:
    """The task's events as NDJSON (snapshot, output, status, done) as they happen."""
    finished = None
    with client() as mbox:
        for event in mbox.tasks.events(task):
            sys.stdout.write(json.dumps(event.raw or event.to_json()) + "\n")
            sys.stdout.flush()
            if event.type == "done" and event.task is not None:
                finished = event.task
        if finished is None:
            finished = mbox.tasks.get(task)
    _finish(finished, require_success)


@app.command()
def wait(
    task: TaskArg,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Give up after, e.g. 90s or 5m.")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Accepted for the reference CLI; the server holds the request.",
            hidden=True,
        ),
    ] = None,
    require_success: RequireSuccess = False,
) -> None:
    """Wait until a task ends and print it (the server holds the request: no polling)."""
    parse_duration(interval, "--interval")
    with client() as mbox:
        finished = mbox.tasks.wait(task, timeout=parse_duration(timeout))
    emit(finished)
    _finish(finished, require_success)


@app.command()
def output(
    task: TaskArg,
    stream: Annotated[str, typer.Option("--stream", help="stdout or stderr.")] = "stdout",
    offset: Annotated[int, typer.Option("--offset", help="From this byte.")] = 0,
) -> None:
    """The whole output of one stream (not capped like the task record), raw."""
    if stream not in ("stdout", "stderr"):
        raise usage_error("--stream is stdout or stderr")
    with client() as mbox:
        data = mbox.tasks.output(task, stream, offset=offset)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command()
def artifacts(task: TaskArg) -> None:
    """The artifacts a task kept."""
    with client() as mbox:
        emit(mbox.tasks.artifacts(task), "Artifact")
