"""The sandbox page's Run code tab in Chromium: cells run in a real Jupyter kernel of a
`code-interpreter` sandbox (its image is built on first use, about 2 minutes): output,
values, a matplotlib chart as an image, an error's traceback without colour codes, HTML
from the sandbox inert in a sandboxed iframe, and a Shell sandbox saying it has no Jupyter."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot
from tests.support.builders import make_project, make_sandbox, suffix, template_id, wait_for_status

pytestmark = pytest.mark.e2e

FIRST_BUILD = 900  # seconds: the code-interpreter image, built on first use
RUN_TIMEOUT = 60_000  # ms: the first run starts the kernel
COUNTED = re.compile(r"^\[\d+\]$")  # the run ended (a running cell shows [*])


@pytest.fixture
def interpreter(api: httpx.Client) -> Iterator[dict]:
    tag = suffix()
    project = make_project(api, f"Notebook {tag}", f"mbox-nb-{tag}")
    created = make_sandbox(
        api, project["id"], template_id(api, "code-interpreter"), f"notebook-{tag}"
    )
    sandbox = wait_for_status(api, created, "running", FIRST_BUILD)
    yield sandbox
    api.delete(f"/v1/sandboxes/{sandbox['id']}")


def open_notebook(page: Page, sandbox: dict) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text(
        "Running", timeout=LIFECYCLE_TIMEOUT
    )
    page.get_by_role("tab", name="Run code", exact=True).click()


def cell(page: Page, index: int):
    return page.get_by_test_id("notebook-cell").nth(index)


def run(page: Page, index: int, code: str, *, shift_enter: bool = False):
    box = cell(page, index)
    box.get_by_label("Code").fill(code)
    if shift_enter:
        box.get_by_label("Code").press("Shift+Enter")
    else:
        box.get_by_role("button", name="Run cell").click()
    expect(box.get_by_label("Execution count")).to_have_text(COUNTED, timeout=RUN_TIMEOUT)
    return box


def test_cells_run_in_the_kernel(
    page: Page, interpreter: dict, pytestconfig: pytest.Config
) -> None:
    open_notebook(page, interpreter)

    first = run(page, 0, 'print("hi")')
    expect(first.get_by_label("Standard output")).to_have_text("hi\n")
    expect(first.get_by_label("Execution count")).to_have_text("[1]")

    second = run(page, 1, "1+1", shift_enter=True)  # a new cell came below the first
    expect(second.get_by_label("Result")).to_have_text("2")
    expect(second.get_by_label("Code")).to_have_value("1+1")  # Shift+Enter added no line

    chart = run(
        page, 2, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()"
    )
    image = chart.get_by_role("img")
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith("data:image/png;base64,iVBOR")
    assert image.evaluate("img => img.naturalWidth") > 100  # a real, decoded picture

    failing = run(page, 3, "def f():\n    return 1 / 0\nf()")
    expect(failing.get_by_role("alert")).to_contain_text("ZeroDivisionError: division by zero")
    traceback = failing.get_by_label("Traceback").inner_text()
    assert "return 1 / 0" in traceback and "\x1b" not in traceback and "[0;31m" not in traceback
    screenshot(page, pytestconfig, "notebook-cells.png", full_page=True)


def test_html_from_the_sandbox_runs_no_script(page: Page, interpreter: dict) -> None:
    """Attack: the sandbox's output is HTML with a script that would act as the console."""
    open_notebook(page, interpreter)
    code = (
        "from IPython.display import HTML, display\n"
        'display(HTML(\'<b id="bold">bold</b><img src=x '
        "onerror=\"parent.document.title=\\'owned\\'\">"
        "<script>parent.document.title=\\'owned\\'</script>'))"
    )
    box = run(page, 0, code)
    frame = box.locator("iframe")
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe").locator("#bold")).to_have_text("bold")
    page.wait_for_timeout(500)
    assert page.title() != "owned"


def test_a_sandbox_without_jupyter_says_so(page: Page, sandbox: dict) -> None:
    open_notebook(page, sandbox)
    box = cell(page, 0)
    box.get_by_label("Code").fill("1 + 1")
    box.get_by_role("button", name="Run cell").click()
    expect(box.get_by_role("alert")).to_contain_text(
        "use the code-interpreter template", timeout=RUN_TIMEOUT
    )
