"""`sb.code`: Python in a sandbox's Jupyter kernels through the SDK, against the live
server: the built-in `code-interpreter` template (its image is built from Debian's
packages on first use, about 2 minutes, then cached for the session)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mbox import Execution, Mbox, errors
from tests.support.live import LiveServer

FIRST_BUILD = 900  # seconds


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Iterator[Mbox]:
    with Mbox(api_url=live.url, token=live.token, request_timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def code_project(admin: Mbox):
    return admin.projects.create(f"code {uuid.uuid4().hex[:8]}", default_namespace="code-tests")


@pytest.fixture(scope="module")
def sb(admin: Mbox, code_project):
    started = time.monotonic()
    with admin.sandboxes.create(
        "code-interpreter", project=code_project.id, wait_timeout=FIRST_BUILD
    ) as sandbox:
        print(f"code-interpreter sandbox running in {time.monotonic() - started:.1f}s")
        yield sandbox


def test_a_value_its_output_and_the_execution_count(sb) -> None:
    execution = sb.code.run("print('hi')\n1 + 1")
    assert isinstance(execution, Execution)
    assert execution.text == "2"
    assert execution.stdout == ["hi\n"] and execution.stderr == []
    assert execution.error is None
    assert execution.execution_count >= 1


def test_an_error_is_the_executions_not_an_exception(sb) -> None:
    execution = sb.code.run("import sys\nprint('to err', file=sys.stderr)\n1 / 0")
    assert execution.stderr == ["to err\n"]
    assert execution.error.name == "ZeroDivisionError"
    assert execution.error.value == "division by zero"
    assert "1 / 0" in re.sub(r"\x1b\[[0-9;]*m", "", execution.error.traceback)  # IPython's colours
    assert execution.text is None


def test_output_reaches_the_callbacks_and_env_vars_last_one_run(sb) -> None:
    seen: list[str] = []
    execution = sb.code.run(
        "import os\nprint(os.environ['GREETING'])",
        envs={"GREETING": "hello"},
        on_stdout=seen.append,
    )
    assert seen == ["hello\n"] == execution.stdout
    after = sb.code.run("import os\nstr(os.environ.get('GREETING'))")
    assert after.text == "None"


def test_a_chart_is_a_png(sb) -> None:
    execution = sb.code.run("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert execution.error is None, execution.error
    (chart,) = [result for result in execution.results if result.png]
    assert base64.b64decode(chart.png).startswith(b"\x89PNG")


def test_contexts_keep_their_variables_apart(sb) -> None:
    sb.code.run("x = 'default'")
    context = sb.code.create_context(cwd="/tmp")
    try:
        assert context.id in [c.id for c in sb.code.contexts()]
        assert sb.code.run("x = 'own'\nimport os\nos.getcwd()", context=context).text == "/tmp"
        assert sb.code.run("x", context=context.id).text == "own"
        assert sb.code.run("x").text == "default"
        sb.code.restart_context(context)
        gone = sb.code.run("x", context=context)
        assert gone.error is not None and gone.error.name == "NameError"
    finally:
        sb.code.remove_context(context)
    assert context.id not in [c.id for c in sb.code.contexts()]
    with pytest.raises(errors.NotFoundError):
        sb.code.run("1", context=context)


def test_a_run_past_its_timeout_is_interrupted(sb) -> None:
    started = time.monotonic()
    execution = sb.code.run("import time\ntime.sleep(60)", timeout=2)
    assert time.monotonic() - started < 30
    assert execution.error is not None and execution.error.name == "KeyboardInterrupt"
    assert sb.code.run("21 * 2").text == "42"  # the kernel lives on


def test_the_json_answer_without_streaming(live: LiveServer, sb) -> None:
    headers = {"Authorization": f"Bearer {live.token}"}
    url = f"{live.url}/v1/sandboxes/{sb.id}/code/run"
    answer = httpx.post(url, json={"code": "print(1)\n'a'"}, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stdout"] == ["1\n"] and body["stderr"] == [] and body["error"] is None
    assert body["results"] == [{"isMainResult": True, "text": "a"}]
    assert isinstance(body["executionCount"], int)


def test_a_viewer_may_not_run_code(live: LiveServer, admin: Mbox, code_project, sb) -> None:
    """Attack: a read-only token runs code (it could read the sandbox's secrets)."""
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    viewer = admin.tokens.create(name, role="viewer", principal=name, project_ids=[code_project.id])
    with Mbox(api_url=live.url, token=viewer.token) as client:
        with pytest.raises(errors.ApiError) as refused:
            client.code.run(sb.id, "open('/etc/passwd').read()")
        assert refused.value.status == 403
        with pytest.raises(errors.ApiError) as listing:
            client.code.contexts(sb.id)
        assert listing.value.status == 403


def test_another_projects_token_finds_no_sandbox(live: LiveServer, admin: Mbox, sb) -> None:
    other = admin.projects.create(f"other {uuid.uuid4().hex[:8]}", default_namespace="other")
    name = f"dev-{uuid.uuid4().hex[:6]}"
    token = admin.tokens.create(name, role="developer", principal=name, project_ids=[other.id])
    with Mbox(api_url=live.url, token=token.token) as client, pytest.raises(errors.NotFoundError):
        client.code.run(sb.id, "1")


def test_a_sandbox_without_jupyter_says_so(admin: Mbox, code_project) -> None:
    with (
        admin.sandboxes.create("shell", project=code_project.id) as plain,
        pytest.raises(errors.ApiError) as refused,
    ):
        plain.code.run("1 + 1")
    assert "cannot run code" in refused.value.message
    assert "code-interpreter template" in refused.value.message


def test_a_stopped_sandbox_is_refused(admin: Mbox, code_project) -> None:
    with admin.sandboxes.create("shell", project=code_project.id) as plain:
        plain.stop(wait=True)
        with pytest.raises(errors.ApiError) as refused:
            plain.code.run("1")
    assert refused.value.status == 409 and "not running" in refused.value.message


def test_the_guides_example_runs(client_env, sb, tmp_path) -> None:
    """docs/sdk.md's notebook example (left out of test_docs.py's 120 s per example: a
    first image build can outlast it; here the module's sandbox has built it)."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()
    (example,) = re.findall(r"## Run Python in a notebook kernel\n\n```py\n(.*?)```", guide, re.S)
    run = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [
        "['hi\\n'] 2",
        "3",
        "ZeroDivisionError division by zero",
    ]
