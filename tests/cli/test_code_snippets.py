"""The sandbox page's "Use from code" snippets (state/sandbox_code.py), run as a user
would run them, against a live server: the CLI one in bash with the installed `mbox`, the
Python one with the SDK, the curl one with curl. Each names the sandbox and never a token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from state.sandbox_code import code_snippets
from tests.cli.conftest import Cli

HELLO = "hello from mbox"


def snippets(cli: Cli, sandbox: dict[str, Any]) -> dict[str, str]:
    return {item.key: item.text for item in code_snippets(cli.env["MBOX_API_URL"], sandbox["id"])}


def run(cli: Cli, argv: list[str]) -> str:
    """`argv` with only MBOX_TOKEN of the client's settings (the snippet says the server),
    and this environment's `mbox` first on PATH."""
    env = {key: value for key, value in cli.env.items() if key != "MBOX_API_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=cli.home)
    assert done.returncode == 0, f"{argv[:2]}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_snippets_name_the_sandbox_and_no_token(cli: Cli, sandbox: dict[str, Any]) -> None:
    found = snippets(cli, sandbox)
    assert set(found) == {"cli", "python", "curl"}
    for key, text in found.items():
        assert sandbox["id"] in text and cli.env["MBOX_API_URL"] in text, key
        assert cli.env["MBOX_TOKEN"] not in text, key
        assert "MBOX_TOKEN" in text, key  # named, as the placeholder
    assert "/terminal?shell=login" in found["curl"] and "mbox shell" in found["cli"]


def test_the_cli_snippet_runs(cli: Cli, sandbox: dict[str, Any]) -> None:
    out = run(cli, ["bash", "-euc", snippets(cli, sandbox)["cli"]])
    assert out.count(HELLO) == 2, out  # the task printed it, then cp read the file


def test_the_python_snippet_runs(cli: Cli, sandbox: dict[str, Any]) -> None:
    out = run(cli, [sys.executable, "-c", snippets(cli, sandbox)["python"]])
    lines = out.splitlines()
    assert lines[0] == f"succeeded {HELLO}", out  # the task, then the file it wrote
    assert lines[1] == HELLO and "42" in lines[2:], out  # and the terminal's answer


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_snippet_runs(cli: Cli, sandbox: dict[str, Any]) -> None:
    out = run(cli, ["bash", "-euc", snippets(cli, sandbox)["curl"]])
    assert '"status":"succeeded"' in out.replace(" ", "") and out.rstrip().endswith(HELLO), out
