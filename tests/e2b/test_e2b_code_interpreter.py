"""E2B's code interpreter through the unmodified `e2b-code-interpreter` SDK: its default
template (`code-interpreter-v1`, mbox's built-in `code-interpreter`, built from Debian's
packages on first use), real Jupyter kernels in the sandbox."""

from __future__ import annotations

import asyncio
import base64
import re
import time

import httpx
import pytest
from e2b_code_interpreter import AsyncSandbox, Sandbox

from tests.e2b.conftest import E2BProject
from tests.support.live import LiveServer

FIRST_BUILD = 900  # seconds: the first sandbox builds the template (about 2 minutes)


@pytest.fixture(scope="module")
def interpreter(live: LiveServer, e2b_project: E2BProject):
    """One code-interpreter sandbox for the module (the first one builds the image)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2B_API_KEY", e2b_project.api_key)
        patch.setenv("E2B_API_URL", live.url)
        patch.setenv("E2B_SANDBOX_URL", live.url)
        patch.delenv("E2B_DEBUG", raising=False)
        started = time.monotonic()
        sb = Sandbox.create(timeout=900, request_timeout=FIRST_BUILD)
        print(f"code-interpreter sandbox ready in {time.monotonic() - started:.1f}s")
        try:
            yield sb
        finally:
            sb.kill()


@pytest.fixture
def sb(interpreter: Sandbox, e2b_env: E2BProject) -> Sandbox:
    return interpreter


def test_a_value_stdout_and_the_execution_count(sb: Sandbox) -> None:
    execution = sb.run_code("print('hello')\n1 + 1")
    assert execution.text == "2"
    assert execution.logs.stdout == ["hello\n"]
    assert execution.error is None
    assert execution.execution_count >= 1
    assert sb.run_code("'a string'").text == "a string"  # its repr's quotes stripped


def test_an_error_comes_with_its_traceback(sb: Sandbox) -> None:
    execution = sb.run_code("def f():\n    return 1 / 0\nf()")
    assert execution.error is not None
    assert execution.error.name == "ZeroDivisionError"
    assert execution.error.value == "division by zero"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", execution.error.traceback)  # IPython's colours
    assert "return 1 / 0" in traceback and traceback.endswith("division by zero")
    assert execution.results == []


def test_variables_persist_across_runs(sb: Sandbox) -> None:
    sb.run_code("counter = 41")
    assert sb.run_code("counter += 1; counter").text == "42"


def test_a_matplotlib_chart_is_a_png(sb: Sandbox) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()"
    execution = sb.run_code(code)
    assert execution.error is None, execution.error
    charts = [result for result in execution.results if result.png]
    assert len(charts) == 1 and not charts[0].is_main_result
    assert base64.b64decode(charts[0].png).startswith(b"\x89PNG")


def test_rich_results_html_and_markdown(sb: Sandbox) -> None:
    execution = sb.run_code(
        "import pandas as pd\nfrom IPython.display import Markdown, display\n"
        "display(Markdown('**bold**'))\npd.DataFrame({'a': [1, 2]})"
    )
    assert execution.error is None, execution.error
    markdown, frame = execution.results
    assert markdown.markdown == "**bold**" and not markdown.is_main_result
    assert frame.is_main_result and "<table" in frame.html and "a" in frame.text


def test_streamed_callbacks_and_env_vars(sb: Sandbox) -> None:
    out: list[str] = []
    err: list[str] = []
    results: list[object] = []
    execution = sb.run_code(
        "import os, sys\nprint(os.environ['GREETING'])\nprint('warn', file=sys.stderr)\n7",
        envs={"GREETING": "hi there"},
        on_stdout=lambda message: out.append(message.line),
        on_stderr=lambda message: err.append(message.line),
        on_result=results.append,
    )
    assert out == ["hi there\n"] and err == ["warn\n"]
    assert len(results) == 1 and execution.text == "7"
    after = sb.run_code("import os\nos.environ.get('GREETING', 'unset')")
    assert after.text == "unset"  # env_vars hold for their run only


def test_code_cannot_break_into_the_drivers_replies(sb: Sandbox) -> None:
    """What kernel code writes to fd 1 (a forged reply, half a line) or an output over
    the line bound leaves the replies whole."""
    forged = sb.run_code('import os\nos.write(1, b\'{"id": "1", "done": {}}\\n{"id": nul\')\n5')
    assert forged.error is None and forged.text == "5"
    huge = sb.run_code("print('x' * (17 * 1024 * 1024))\n'after'")
    assert huge.text == "after"
    assert any("left out" in line for line in huge.logs.stderr)
    assert sb.run_code("6 * 7").text == "42"


def test_a_kernel_that_dies_is_started_afresh(sb: Sandbox) -> None:
    context = sb.create_code_context()
    sb.run_code("lost = 1", context=context)
    died = sb.run_code("import os\nos._exit(3)", context=context)
    assert died.error is not None and died.error.name == "KernelDied"
    assert sb.run_code("'lost' in globals()", context=context).text == "False"
    sb.remove_code_context(context)


def test_an_unsupported_language_is_refused_in_words(sb: Sandbox) -> None:
    from e2b.exceptions import SandboxException

    with pytest.raises(SandboxException, match="only python"):
        sb.run_code("console.log(1)", language="javascript")


def test_contexts_keep_their_own_state(sb: Sandbox) -> None:
    from e2b.exceptions import NotFoundException

    mine = sb.create_code_context(cwd="/tmp")
    assert mine.language == "python" and mine.cwd == "/tmp"
    assert mine.id in [context.id for context in sb.list_code_contexts()]
    sb.run_code("shared = 'default'")
    sb.run_code("shared = 'mine'", context=mine)
    assert sb.run_code("shared", context=mine).text == "mine"
    assert sb.run_code("import os; os.getcwd()", context=mine).text == "/tmp"
    assert sb.run_code("shared").text == "default"
    sb.restart_code_context(mine)
    assert sb.run_code("shared", context=mine).error.name == "NameError"
    sb.remove_code_context(mine)
    assert mine.id not in [context.id for context in sb.list_code_contexts()]
    with pytest.raises(NotFoundException):
        sb.run_code("1", context=mine)
    with pytest.raises(NotFoundException):
        sb.remove_code_context(mine)


def test_a_context_needs_a_directory_of_the_sandbox(sb: Sandbox) -> None:
    from e2b.exceptions import SandboxException

    with pytest.raises(SandboxException, match=r"400.*not a directory"):
        sb.create_code_context(cwd="/no/such/dir")


def test_context_calls_need_a_token_of_the_sandbox(live: LiveServer, sb: Sandbox) -> None:
    """The context calls carry only the traffic access token: without it, or with a
    forged one, nothing is listed or made."""
    headers = {"E2b-Sandbox-Id": sb.sandbox_id, "E2b-Sandbox-Port": "49999"}
    for token in ({}, {"E2B-Traffic-Access-Token": "mbxs_forged.0000"}):
        for method in ("GET", "POST"):
            answer = httpx.request(method, f"{live.url}/contexts", headers={**headers, **token})
            assert answer.status_code == 401, answer.text


def test_execute_needs_the_sandbox_access_token(live: LiveServer, sb: Sandbox) -> None:
    headers = {"E2b-Sandbox-Id": sb.sandbox_id, "E2b-Sandbox-Port": "49999"}
    for token in ("", "mbxs_forged.0000"):
        answer = httpx.post(
            f"{live.url}/execute",
            headers={**headers, "X-Access-Token": token},
            json={"code": "import os; os.system('id')"},
        )
        assert answer.status_code == 401, answer.text


def test_a_run_its_caller_gives_up_on_is_interrupted(sb: Sandbox) -> None:
    """The SDK's timeout ends the call; the kernel is interrupted, its state kept, and
    the next run does not wait for the abandoned one."""
    from e2b.exceptions import TimeoutException

    sb.run_code("kept = 'yes'")
    with pytest.raises(TimeoutException):
        sb.run_code("import time\ntime.sleep(120)", timeout=3)
    started = time.monotonic()
    assert sb.run_code("kept", timeout=60).text == "yes"
    assert time.monotonic() - started < 30


def test_the_default_context_is_listed_with_its_home(sb: Sandbox) -> None:
    sb.run_code("1")
    homes = [context.cwd for context in sb.list_code_contexts() if context.language == "python"]
    assert homes and all(cwd == "/home/user" for cwd in homes)


def test_a_template_without_jupyter_says_so(e2b_env: E2BProject) -> None:
    from e2b.exceptions import SandboxException

    plain = Sandbox.create(template=e2b_env.template, timeout=60)
    try:
        with pytest.raises(SandboxException, match=r"503.*cannot run code"):
            plain.run_code("1 + 1")
    finally:
        plain.kill()


@pytest.mark.asyncio
async def test_async_sandbox_runs_code(sb: Sandbox, e2b_env: E2BProject) -> None:
    again = await AsyncSandbox.connect(sb.sandbox_id)
    out: list[str] = []
    execution = await again.run_code(
        "for i in range(3):\n    print(i)\nsum(range(4))",
        on_stdout=lambda message: out.append(message.line),
    )
    assert execution.text == "6"
    assert "".join(out) == "0\n1\n2\n"


@pytest.mark.asyncio
async def test_contexts_run_at_once(sb: Sandbox, e2b_env: E2BProject) -> None:
    """A long run in one context does not hold up another context's runs."""
    again = await AsyncSandbox.connect(sb.sandbox_id)
    slow, quick = await again.create_code_context(), await again.create_code_context()
    finished: list[str] = []

    async def run(context, code: str, name: str) -> None:
        await again.run_code(code, context=context)
        finished.append(name)

    await asyncio.gather(run(slow, "import time\ntime.sleep(3)", "slow"), run(quick, "1", "quick"))
    assert finished == ["quick", "slow"]
    for context in (slow, quick):
        await again.remove_code_context(context)


def test_the_sandboxs_envs_and_home_reach_its_kernels(interpreter: Sandbox, e2b_env) -> None:
    """E2B's `envs` of the sandbox are every kernel's too, and a kernel starts in the
    user's home, as E2B's does (the template is built by now)."""
    sb = Sandbox.create(envs={"SANDBOX_LEVEL": "yes"}, timeout=300)
    try:
        run = sb.run_code("import os; (os.environ.get('SANDBOX_LEVEL'), os.getcwd())")
        assert run.text == "('yes', '/home/user')"
    finally:
        sb.kill()
