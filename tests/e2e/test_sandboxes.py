"""The sandboxes console in Chromium against the real server and local runtime: launch from
the built-in Shell template, watch it run, stop, start and delete it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

# The reconciler starts a sandbox within about a second; allow for a busy machine.
LIFECYCLE_TIMEOUT = 15_000
SANDBOX_URL = re.compile(r"/sandboxes/[0-9a-f-]{36}$")


def create_project(api: httpx.Client, name: str, namespace: str) -> dict:
    response = api.post("/v1/projects", json={"name": name, "defaultNamespace": namespace})
    assert response.status_code == 201, response.text
    return response.json()


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.get_by_label(label, exact=True)).to_have_text(option)


def launch(page: Page, project: str, template: str, name: str) -> None:
    choose(page, "Project", project)
    choose(page, "Template", template)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Launch sandbox").click()


def screenshot(page: Page, pytestconfig: pytest.Config, name: str) -> None:
    output = Path(pytestconfig.getoption("--output"))
    output.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=output / name)


def test_launch_stop_start_and_delete_a_sandbox(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = create_project(api, "Sandbox Lab", "mbox-sandbox-lab")
    page.set_viewport_size({"width": 1280, "height": 720})

    page.goto("/sandboxes")
    expect(page.get_by_role("heading", name="Sandboxes", level=1)).to_be_visible()
    launch(page, "Sandbox Lab", "Shell", "lab-shell")

    # The launch lands on the sandbox's own page, which follows it to running.
    expect(page).to_have_url(SANDBOX_URL)
    sandbox_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="lab-shell", level=1)).to_be_visible()
    status = page.get_by_role("group", name="Sandbox status")
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    startup = page.get_by_role("region", name="Start-up")
    expect(startup).to_contain_text(re.compile(r"Ready in \d+(\.\d)? (ms|s)"))
    expect(startup).to_contain_text("Runtime started")
    expect(page.get_by_role("region", name="Runtime")).to_contain_text("local Sandbox local/")

    page.get_by_role("tab", name="Events").click()
    events = page.get_by_role("table", name="Runtime events")
    expect(events.get_by_role("row", name=re.compile("Started"))).to_be_visible()
    screenshot(page, pytestconfig, "sandbox.png")

    page.get_by_role("button", name="Stop").click()
    expect(status).to_contain_text("Stopped by request", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()

    # The list shows it too, and its row links back to the page.
    page.get_by_role("link", name="All sandboxes").click()
    table = page.get_by_role("table", name="Sandboxes")
    row = table.get_by_role("row", name=re.compile("lab-shell"))
    expect(row).to_contain_text("Sandbox Lab")
    expect(row).to_contain_text("Shell")
    expect(row).to_contain_text("Running")
    choose(page, "Filter by project", "Sandbox Lab")
    expect(page.get_by_text("1 sandbox", exact=True)).to_be_visible()
    expect(row).to_be_visible()
    screenshot(page, pytestconfig, "sandboxes.png")
    row.get_by_role("link", name="lab-shell").click()
    expect(page).to_have_url(re.compile(f"/sandboxes/{sandbox_id}$"))
    expect(status).to_contain_text("Running")

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("lab-shell")
    dialog.get_by_role("button", name="Delete sandbox").click()
    expect(page).to_have_url(re.compile(r"/sandboxes$"))
    expect(page.get_by_role("status")).to_have_text("Deleted sandbox lab-shell.")
    expect(page.get_by_role("row", name=re.compile("lab-shell"))).to_have_count(0)

    # The console went through the service door, as the console.
    assert api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404
    listed = api.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"]
    assert [s for s in listed if s["id"] == sandbox_id] == []
    audit = api.get("/v1/audit-events", params={"resourceType": "sandbox"}).json()["items"]
    actions = {(e["action"], e["principal"]) for e in audit if e["resourceId"] == sandbox_id}
    assert {
        ("sandbox.created", "console"),
        ("sandbox.stopped", "console"),
        ("sandbox.started", "console"),
        ("sandbox.deleted", "console"),
    } <= actions


def test_launch_errors_are_shown_in_words(page: Page, api: httpx.Client) -> None:
    create_project(api, "Twin Lab", "mbox-twin-lab")
    page.goto("/sandboxes")
    launch(page, "Twin Lab", "Shell", "twin")
    expect(page).to_have_url(SANDBOX_URL)

    page.goto("/sandboxes")
    launch(page, "Twin Lab", "Shell", "twin")
    expect(page.get_by_role("alert")).to_have_text(
        'a sandbox with slug "twin" already exists in this project'
    )
    # Editing the form clears the stale error.
    page.get_by_label("Name", exact=True).fill("twin 2")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_unknown_sandbox_says_so(page: Page) -> None:
    page.goto("/sandboxes/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("heading", name="Sandbox unavailable", level=1)).to_be_visible()
    page.get_by_role("link", name="Back to Sandboxes").click()
    expect(page.get_by_role("heading", name="Sandboxes", level=1)).to_be_visible()
