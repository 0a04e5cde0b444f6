"""`mbox code run` against the live server, in a `code-interpreter` sandbox (its image is
built on first use, about 2 minutes): output, the value, an error's exit code."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.cli.conftest import Cli


@pytest.fixture(scope="module")
def interpreter(cli: Cli, project: dict[str, Any]) -> dict[str, Any]:
    name = f"cli-code-{uuid.uuid4().hex[:6]}"
    created = cli.json(
        "sandboxes", "create", "--project", project["slug"], "--template", "code-interpreter",
        "--name", name, "--wait", "--timeout", "15m",
    )  # fmt: skip
    assert created["status"] == "running"
    return created


def test_output_then_the_value(cli: Cli, interpreter: dict[str, Any]) -> None:
    done = cli("code", "run", interpreter["name"], "-c", "import sys\nprint('hi')\n1+1")
    assert done.out == "hi\n2\n" and done.err == ""


def test_code_from_a_file_and_from_stdin(cli: Cli, interpreter: dict[str, Any], tmp_path) -> None:
    script = tmp_path / "script.py"
    script.write_text("total = sum(range(5))\ntotal")
    assert cli("code", "run", interpreter["id"], str(script)).out == "10\n"
    assert cli("code", "run", interpreter["id"], "-", input=b"total * 2").out == "20\n"


def test_an_error_exits_1_with_its_traceback(cli: Cli, interpreter: dict[str, Any]) -> None:
    failed = cli("code", "run", interpreter["id"], "-c", "print('before')\n1/0", code=1)
    assert failed.out == "before\n"
    assert "ZeroDivisionError: division by zero" in failed.err
    assert "\x1b" not in failed.err  # stderr is not a terminal: no colour codes


def test_the_execution_as_json(cli: Cli, interpreter: dict[str, Any]) -> None:
    execution = cli.json("code", "run", interpreter["id"], "-c", "print(1)\n'x'", "-o", "json")
    assert execution["stdout"] == ["1\n"]
    assert execution["results"] == [{"isMainResult": True, "text": "x"}]
    contexts = json.loads(cli("code", "contexts", interpreter["id"]).out)["items"]
    assert contexts and all(context["language"] == "python" for context in contexts)


def test_usage_errors(cli: Cli, interpreter: dict[str, Any]) -> None:
    both = cli("code", "run", interpreter["id"], "x.py", "-c", "1", code=2)
    assert "not both" in both.err
    missing = cli("code", "run", interpreter["id"], "/nonexistent/x.py", code=2)
    assert "cannot read /nonexistent/x.py" in missing.err
