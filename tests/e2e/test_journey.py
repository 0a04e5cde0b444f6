"""One person's whole journey through the console, in Chromium against the real server and
local runtime: sign in, create a project, create a template, launch a sandbox from it, type
in its terminal, run a task and watch its output live, capture and upload artifacts, stop,
start and delete it. The focused tests per page check the details; this one checks that
the pages lead into each other."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import TOKEN, sign_in
from tests.e2e.harness import LIFECYCLE_TIMEOUT, Server, screenshot

pytestmark = pytest.mark.e2e

SANDBOX_URL = re.compile(r"/sandboxes/[0-9a-f-]{36}$")


def choose(scope: Page | Locator, page: Page, label: str, option: str) -> None:
    scope.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(scope.get_by_label(label, exact=True)).to_have_text(option)


def open_tab(page: Page, tab: str) -> None:
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")


def create_project(page: Page, name: str) -> None:
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("status")).to_have_text(f"Created project {name}.")


def create_template(page: Page, project: str, name: str, image: str = "") -> None:
    """The Python preset, with another image (Advanced) when given."""
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("button", name="New template").click()
    dialog = page.get_by_role("dialog", name="New template")
    choose(dialog, page, "Scope", project)
    dialog.get_by_label("Name", exact=True).fill(name)
    choose(dialog, page, "Runtime", "Python")
    if image:
        dialog.get_by_text("Advanced", exact=True).click()
        dialog.get_by_label("Image").fill(image)
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("article", name=name)).to_contain_text("Not tested")


def launch(page: Page, project: str, template: str, name: str) -> None:
    page.get_by_role("link", name="Sandboxes").click()
    page.get_by_role("button", name="Launch sandbox").click()
    dialog = page.get_by_role("dialog", name="Launch sandbox")
    choose(dialog, page, "Project", project)
    choose(dialog, page, "Template", template)
    dialog.get_by_label("Name", exact=True).fill(name)
    expect(dialog.get_by_role("region", name="Preflight")).to_contain_text("Ready to launch")
    dialog.get_by_role("button", name="Launch", exact=True).click()
    expect(page).to_have_url(SANDBOX_URL)


def type_in_terminal(page: Page, line: str) -> None:
    terminal = page.get_by_role("region", name="Terminal", exact=True)
    terminal.locator(".xterm-screen").click()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def run_task(page: Page, command: str) -> Locator:
    form = page.get_by_role("form", name="Run a command")
    form.get_by_label("Command", exact=True).fill(command)
    form.get_by_role("button", name="Run", exact=True).click()
    return page.get_by_role("region", name="Task output")


def test_sign_in_to_delete(
    browser: Browser, server: Server, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    suffix = uuid.uuid4().hex[:4]
    project, template, name = f"Journey {suffix}", f"Journey Python {suffix}", f"trip-{suffix}"
    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 720})
    page.goto("/projects")
    sign_in(page, TOKEN)
    expect(page.get_by_role("region", name="Account")).to_contain_text("Signed in as")

    create_project(page, project)
    create_template(page, project, template, image="host")  # no registry here
    launch(page, project, template, name)
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    status = page.get_by_role("group", name="Sandbox status")
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    screenshot(page, pytestconfig, "journey-sandbox.png")

    # The terminal: a command typed there writes into the workspace.
    open_tab(page, "Terminal")
    type_in_terminal(page, "mkdir -p out && echo journey-$((6*7)) > out/note.txt")
    terminal = page.get_by_role("region", name="Terminal", exact=True)
    type_in_terminal(page, "cat out/note.txt")
    expect(terminal.locator(".xterm-rows")).to_contain_text("journey-42")

    # A task, followed live while it runs.
    open_tab(page, "Tasks")
    panel = run_task(page, "echo step-one; sleep 1; wc -c out/note.txt")
    task_status = panel.get_by_role("group", name="Task status")
    expect(panel.get_by_role("log", name="Standard output")).to_contain_text("step-one")
    expect(task_status).to_contain_text("Succeeded", timeout=LIFECYCLE_TIMEOUT)
    expect(panel.get_by_role("log", name="Standard output")).to_contain_text("11 out/note.txt")

    # Artifacts: capture the file the terminal wrote, and upload one from this machine.
    open_tab(page, "Artifacts")
    page.get_by_role("button", name="Capture from workspace").click()
    dialog = page.get_by_role("dialog", name="Capture from workspace")
    dialog.get_by_label("Workspace path").fill("out/note.txt")
    dialog.get_by_role("button", name="Capture", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Captured")).to_have_text(
        "Captured note.txt (11 B) from the workspace."
    )
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload file").click()
    chooser.value.set_files(
        files=[{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# trip\n"}]
    )
    expect(page.get_by_role("status").filter(has_text="Uploaded")).to_have_text(
        "Uploaded notes.md (7 B)."
    )
    sandbox_id = page.url.split("?", 1)[0].rsplit("/", 1)[1]  # the tab is a parameter
    kept = api.get(f"/v1/sandboxes/{sandbox_id}/artifacts").json()["items"]
    assert sorted(a["name"] for a in kept) == ["note.txt", "notes.md"]

    # Stop, start, delete.
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(status).to_contain_text("Stopped", timeout=LIFECYCLE_TIMEOUT)
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete sandbox").click()
    expect(page.get_by_role("heading", name="Sandboxes", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Deleted sandbox {name}.")
    assert api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404

    # Every step was the console's, in the audit trail.
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit", level=1)).to_be_visible()
    screenshot(page, pytestconfig, "journey-audit.png")
    actions = {
        e["action"]
        for e in api.get("/v1/audit-events", params={"limit": 200}).json()["items"]
        if e["source"] == "console"
    }
    assert {"project.created", "template.created", "sandbox.created", "sandbox.deleted"} <= actions
    page.close()
