"""The sandbox page's Tasks and Files tabs in Chromium against the real server and local
runtime: run commands and follow their output live, cancel one, see a failure; write a file
through the console, browse to it, view it and delete it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot

pytestmark = pytest.mark.e2e

# A cancel escalates SIGINT -> SIGTERM -> SIGKILL 2 s apart; `sleep` ends on the first.
CANCEL_TIMEOUT = 10_000
TODO = "buy milk\nwrite tests\n"


def open_sandbox(page: Page, sandbox: dict, tab: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text("Running")
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")


def run(page: Page, command: str, timeout: str = "60") -> None:
    form = page.get_by_role("form", name="Run a command")
    form.get_by_label("Command", exact=True).fill(command)
    form.get_by_label("Timeout (s)").fill(timeout)
    form.get_by_role("button", name="Run", exact=True).click()


def test_run_follow_cancel_and_fail_tasks(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_sandbox(page, sandbox, "Tasks")
    expect(page.get_by_text("No tasks yet")).to_be_visible()
    # The form is enabled once the page is hydrated and the sandbox runs.
    expect(page.get_by_label("Command", exact=True)).to_be_enabled()

    run(page, "echo hello; echo oops >&2; sleep 1; echo done")
    panel = page.get_by_role("region", name="Task output")
    stdout = panel.get_by_role("log", name="Standard output")
    status = panel.get_by_role("group", name="Task status")
    # "hello" shows while the task still runs: the output is followed live.
    expect(stdout).to_contain_text("hello")
    expect(status).to_contain_text("Running")
    expect(panel.get_by_role("log", name="Standard error")).to_contain_text("oops")
    expect(stdout).to_contain_text("done", timeout=LIFECYCLE_TIMEOUT)
    expect(status).to_contain_text("Succeeded")
    expect(status).to_contain_text("Exit code 0")
    expect(panel.get_by_role("button", name="Cancel task")).to_have_count(0)
    history = page.get_by_role("table", name="Tasks")
    first = history.get_by_role("row", name=re.compile("echo hello"))
    expect(first).to_contain_text("Succeeded")
    panel.scroll_into_view_if_needed()
    screenshot(page, pytestconfig, "sandbox-tasks.png")

    run(page, "sleep 30")
    expect(status).to_contain_text("Running")
    expect(panel).to_contain_text("sleep 30")
    panel.get_by_role("button", name="Cancel task").click()
    expect(status).to_contain_text("Canceled", timeout=CANCEL_TIMEOUT)
    expect(panel).to_contain_text("Task canceled")

    run(page, "exit 3")
    expect(panel).to_contain_text("exit 3")
    expect(status).to_contain_text("Failed", timeout=LIFECYCLE_TIMEOUT)
    expect(status).to_contain_text("Exit code 3")
    expect(panel).to_contain_text("Exited with code 3")

    # The history, newest first; a row selects its task again.
    expect(history.get_by_role("row")).to_have_count(4)  # the header and three tasks
    expect(history.get_by_role("row").nth(1)).to_contain_text("exit 3")
    expect(history.get_by_role("row").nth(2)).to_contain_text("Canceled")
    first.click()
    expect(stdout).to_have_text(re.compile(r"^hello\s+done\s*$"))
    expect(status).to_contain_text("Succeeded")

    # Through the service door, as the console.
    listed = api.get(f"/v1/sandboxes/{sandbox['id']}/tasks").json()["items"]
    assert [t["status"] for t in listed] == ["failed", "canceled", "succeeded"]
    assert [listed[0]["exitCode"], listed[2]["exitCode"]] == [3, 0]
    assert listed[2]["command"] == ["sh", "-lc", "echo hello; echo oops >&2; sleep 1; echo done"]
    assert listed[2]["stdout"] == "hello\ndone\n" and listed[2]["stderr"] == "oops\n"


def test_run_form_explains_a_stopped_sandbox(page: Page, api: httpx.Client, sandbox: dict) -> None:
    open_sandbox(page, sandbox, "Tasks")
    api.post(f"/v1/sandboxes/{sandbox['id']}/stop").raise_for_status()
    expect(page.get_by_text("The sandbox is stopped: start it to run commands.")).to_be_visible(
        timeout=LIFECYCLE_TIMEOUT
    )
    expect(page.get_by_label("Command", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()


def test_write_browse_view_and_delete_files(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_sandbox(page, sandbox, "Files")
    expect(page.get_by_role("navigation", name="Folder")).to_contain_text("Workspace")

    page.get_by_role("button", name="New file").click()
    dialog = page.get_by_role("dialog", name="New file")
    dialog.get_by_label("Path").fill("notes/todo.txt")
    dialog.get_by_label("Content").fill(TODO)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("Saved notes/todo.txt (21 B).")

    listing = page.get_by_role("table", name="Files")
    expect(listing.get_by_role("row", name=re.compile("notes"))).to_be_visible()
    listing.get_by_role("button", name="Open folder notes").click()
    expect(page.get_by_role("navigation", name="Folder")).to_contain_text("notes")
    row = listing.get_by_role("row", name=re.compile("todo.txt"))
    expect(row).to_contain_text("21 B")

    # The API sees what the console wrote.
    listed = api.get(f"/v1/sandboxes/{sandbox['id']}/files", params={"path": "notes"}).json()
    assert [(i["name"], i["type"], i["size"]) for i in listed["items"]] == [
        ("todo.txt", "file", len(TODO))
    ]

    row.get_by_role("button", name="View todo.txt").click()
    viewer = page.get_by_role("region", name="File todo.txt")
    expect(viewer.get_by_role("log", name="File content")).to_have_text(
        re.compile(r"^buy milk\nwrite tests\n$")
    )
    screenshot(page, pytestconfig, "sandbox-files.png")
    viewer.get_by_role("button", name="Close").click()

    row.get_by_role("button", name="Delete todo.txt").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("notes/todo.txt will be deleted")
    confirm.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Deleted notes/todo.txt.")
    expect(page.get_by_text("This folder is empty.")).to_be_visible()
    listed = api.get(f"/v1/sandboxes/{sandbox['id']}/files", params={"path": "notes"}).json()
    assert listed["items"] == []

    # Back to the workspace through the breadcrumb.
    page.get_by_role("navigation", name="Folder").get_by_role("button", name="Workspace").click()
    expect(listing.get_by_role("row", name=re.compile("notes"))).to_be_visible()


def test_the_run_form_says_what_is_wrong_next_to_the_field(page: Page, sandbox: dict) -> None:
    """A blank command and a timeout over the limit are said in words next to their field
    (the browser's own checks, which showed nothing, are off); nothing runs."""
    open_sandbox(page, sandbox, "Tasks")
    form = page.get_by_role("form", name="Run a command")
    expect(form).to_contain_text("1 to 600 s")  # the limits, before anything goes wrong
    command = form.get_by_label("Command", exact=True)
    expect(command).to_be_enabled()

    run(page, "   ")
    expect(page.locator("#task-command-error")).to_have_text(re.compile("Enter a command"))
    expect(command).to_have_attribute("aria-invalid", "true")
    expect(command).to_have_attribute("aria-describedby", "task-command-error")

    run(page, "echo never", timeout="601")
    expect(page.locator("#task-command-error")).to_have_count(0)
    timeout_error = page.locator("#task-timeout-error")
    expect(timeout_error).to_have_text(re.compile("from 1 to 600"))
    expect(form.get_by_label("Timeout (s)")).to_have_attribute("aria-invalid", "true")
    run(page, "echo never", timeout="ten")
    expect(timeout_error).to_have_text(re.compile("whole number of seconds"))
    expect(page.get_by_text("No tasks yet")).to_be_visible()
    expect(page.get_by_text("An error occurred")).to_have_count(0)

    run(page, "echo fixed-$((2*3))")
    expect(timeout_error).to_have_count(0)
    stdout = page.get_by_role("region", name="Task output").get_by_role(
        "log", name="Standard output"
    )
    expect(stdout).to_contain_text("fixed-6", timeout=LIFECYCLE_TIMEOUT)
