"""The SDK and CLI install on their own: a fresh virtualenv with `pip install .` gets only
their small dependencies (no reflex, sqlmodel, kubernetes, fastapi), imports without the
server stack, and drives a live server."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_STACK = ("reflex", "sqlmodel", "sqlalchemy", "kubernetes", "fastapi", "boto3", "alembic")

PROGRAM = """
import json, sys
from mbox import Mbox
with Mbox() as mbox:
    project = mbox.projects.create("fresh venv", default_namespace="sdk-tests")
    with mbox.sandboxes.create("shell", project=project.id) as sb:
        result = sb.tasks.run(["echo", "from a fresh venv"])
print(json.dumps({
    "stdout": result.stdout,
    "server_stack": sorted(m for m in sys.modules if m.split(".")[0] in %r),
}))
"""


def test_a_fresh_virtualenv_gets_only_the_client(tmp_path, live) -> None:
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True
    )
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert not installed & set(SERVER_STACK), f"server packages came along: {installed}"
    assert {"httpx", "typer", "websockets"} <= installed

    run = subprocess.run(
        [python, "-c", PROGRAM % (SERVER_STACK,)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"MBOX_API_URL": live.url, "MBOX_TOKEN": live.token, "HOME": str(tmp_path)},
        cwd=tmp_path,  # not the repository: the installed package is what runs
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout)
    assert outcome == {"stdout": "from a fresh venv\n", "server_stack": []}
    help_text = subprocess.run(
        [target / "bin" / "mbox", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert help_text.returncode == 0 and "sandboxes" in help_text.stdout, help_text.stderr


def test_the_sdk_imports_no_server_code_in_this_environment() -> None:
    """Here the server stack is installed: importing every client module still loads none
    of it (the import-linter contract says the same statically)."""
    code = (
        "import sys, mbox, mbox.models, mbox.errors, mbox.config, mbox.compat\n"
        "from mbox import Mbox, AsyncMbox, Sandbox, AsyncSandbox\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
