"""`mbox code`: Python in a sandbox's Jupyter kernels (the code-interpreter template)."""

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mbox.cli._core import (
    STATE,
    SandboxArg,
    client,
    emit,
    group,
    is_tty,
    parse_pairs,
    sandbox_id,
    usage_error,
)

app = group("Code: run Python in a sandbox's Jupyter kernel (variables live on).")

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@app.command()
def run(
    sandbox: SandboxArg,
    file: Annotated[
        str | None,
        typer.Argument(help="A file of code, or - for stdin.", metavar="[FILE | -]"),
    ] = None,
    code: Annotated[str | None, typer.Option("-c", "--code", help="The code itself.")] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="A context id (default: the sandbox's).")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="NAME=VALUE for this run; repeat.")
    ] = None,
    timeout: Annotated[
        int | None, typer.Option("--timeout", help="Seconds before the kernel is interrupted.")
    ] = None,
) -> None:
    """Run code: its stdout and stderr as they come, then its value; exit 1 when it
    raised (the traceback on stderr). With --output, print the execution instead."""
    source = _source(file, code)
    options: dict[str, Any] = {"context": context, "timeout": timeout}
    options["envs"] = parse_pairs(env, "--env")
    with client() as mbox:
        target = sandbox_id(mbox, sandbox)
        if STATE.output_flag:
            execution = mbox.code.run(target, source, **options)
            emit(execution)
        else:
            execution = mbox.code.run(
                target,
                source,
                on_stdout=_writer(sys.stdout),
                on_stderr=_writer(sys.stderr),
                **options,
            )
            if execution.text is not None:
                _writer(sys.stdout)(execution.text + "\n")
    if execution.error is not None:
        if not STATE.output_flag:
            traceback = (
                execution.error.traceback or f"{execution.error.name}: {execution.error.value}"
            )
            _writer(sys.stderr)(
                (traceback if is_tty(sys.stderr) else ANSI.sub("", traceback)) + "\n"
            )
        raise typer.Exit(1)


def _source(file: str | None, code: str | None) -> str:
    if (file is None) == (code is None):
        raise usage_error("give the code with -c, or a FILE (- for stdin), not both")
    if code is not None:
        return code
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text()
    except OSError as exc:
        raise usage_error(f"cannot read {file}: {exc.strerror}") from None


def _writer(stream: Any):
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


@app.command()
def contexts(sandbox: SandboxArg) -> None:
    """The sandbox's contexts (each a kernel with its own variables)."""
    with client() as mbox:
        emit(mbox.code.contexts(sandbox_id(mbox, sandbox)), "CodeContext")
