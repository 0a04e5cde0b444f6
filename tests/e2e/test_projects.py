"""The projects page in Chromium against the real server and local runtime: create a
project, edit its repository and default template, read its usage charts after launching
sandboxes and running tasks through the API, and delete it (refused in words while a
sandbox exists, done once it is gone)."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot
from tests.support.builders import make_project

pytestmark = pytest.mark.e2e


def wait_for(check, what: str, timeout: float = LIFECYCLE_TIMEOUT / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def project_by_name(api: httpx.Client, name: str) -> dict:
    return next(p for p in api.get("/v1/projects").json()["items"] if p["name"] == name)


def launch(api: httpx.Client, project: dict, template_id: str, name: str) -> dict:
    created = api.post(
        "/v1/sandboxes",
        json={"projectId": project["id"], "templateId": template_id, "name": name},
    )
    assert created.status_code == 201, created.text
    sandbox = created.json()
    wait_for(
        lambda: api.get(f"/v1/sandboxes/{sandbox['id']}").json()["status"] == "running",
        "the sandbox to run",
    )
    return sandbox


def run_task(api: httpx.Client, sandbox: dict, command: list[str]) -> None:
    created = api.post(f"/v1/sandboxes/{sandbox['id']}/tasks", json={"command": command})
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    wait_for(
        lambda: api.get(f"/v1/tasks/{task_id}").json()["status"] not in ("queued", "running"),
        "the task to finish",
    )


def inspect(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Inspect {name}").click()
    expect(page.get_by_role("region", name=f"Project {name}")).to_be_visible()


def test_edit_usage_charts_and_guarded_delete(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    name = f"Console {uuid.uuid4().hex[:6]}"
    page.goto("/projects")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("status")).to_have_text(f"Created project {name}.")
    project = project_by_name(api, name)
    templates = {t["slug"]: t["id"] for t in api.get("/v1/templates").json()["items"]}

    # Edit: repository URL and default template (a global one).
    inspect(page, name)
    inspector = page.get_by_role("region", name=f"Project {name}")
    page.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit project")
    dialog.get_by_label("Repository URL").fill("https://github.com/acme/console")
    dialog.get_by_label("Default template").click()
    page.get_by_role("option", name="Shell").click()
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text(f"Saved project {name}.")
    expect(inspector.get_by_text("https://github.com/acme/console")).to_be_visible()
    stored = api.get(f"/v1/projects/{project['id']}").json()
    assert stored["repositoryUrl"] == "https://github.com/acme/console"
    assert stored["defaultTemplateId"] == templates["shell"]
    # A blank name is refused in words, and nothing changes.
    page.get_by_role("button", name="Edit").click()
    dialog.get_by_label("Name", exact=True).fill(" ")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_role("alert")).to_have_text("name cannot be empty")
    dialog.get_by_role("button", name="Cancel").click()
    assert api.get(f"/v1/projects/{project['id']}").json()["name"] == name

    # Usage: two sandboxes, one stopped; one task succeeds, one fails.
    running = launch(api, project, templates["shell"], "busy")
    stopped = launch(api, project, templates["shell"], "idle")
    assert api.post(f"/v1/sandboxes/{stopped['id']}/stop").status_code == 200
    wait_for(
        lambda: api.get(f"/v1/sandboxes/{stopped['id']}").json()["status"] == "stopped",
        "the sandbox to stop",
    )
    run_task(api, running, ["true"])
    run_task(api, running, ["sh", "-c", "exit 3"])
    inspect(page, name)
    expect(
        inspector.get_by_role(
            "img", name=re.compile("^Sandboxes by status: 1 running, 0 pending, 1 stopped")
        )
    ).to_be_visible()
    expect(
        inspector.get_by_role("img", name=re.compile("^Tasks by outcome: 1 succeeded, 1 failed,"))
    ).to_be_visible()
    expect(
        inspector.get_by_role("img", name=re.compile("^Retained artifact bytes: 0 B"))
    ).to_be_visible()
    activity = inspector.get_by_role("region", name="Recent activity")
    expect(activity.get_by_text("execution.task.created").first).to_be_visible()
    expect(activity.get_by_role("link", name="All of this project's events")).to_have_attribute(
        "href", f"/audit?project={project['id']}"
    )
    screenshot(page, pytestconfig, "projects-inspector-light.png")
    inspector.evaluate("panel => { panel.scrollTop = panel.scrollHeight; }")
    screenshot(page, pytestconfig, "projects-inspector-usage-light.png")
    page.get_by_role("button", name="Toggle dark mode").click()
    screenshot(page, pytestconfig, "projects-inspector-dark.png")
    page.get_by_role("button", name="Toggle dark mode").click()

    # Delete is refused in words while sandboxes exist.
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    expect(inspector.get_by_role("alert")).to_contain_text("project still has sandboxes")
    assert api.get(f"/v1/projects/{project['id']}").status_code == 200

    # Once the sandboxes are deleted and cleaned up, it goes.
    for sandbox in (running, stopped):
        assert api.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    wait_for(
        lambda: (
            api.get(f"/v1/projects/{project['id']}/usage").json()["sandboxes"]["cleanupPending"]
            == 0
        ),
        "runtime cleanup",
    )
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted project {name}.")
    expect(page.get_by_role("button", name=f"Inspect {name}")).to_have_count(0)
    assert api.get(f"/v1/projects/{project['id']}").status_code == 404


def test_a_project_deleted_elsewhere_is_reported_in_words(page: Page, api: httpx.Client) -> None:
    name = f"Gone {uuid.uuid4().hex[:6]}"
    project = make_project(api, name, "mbox-gone")
    page.goto("/projects")
    inspect_button = page.get_by_role("button", name=f"Inspect {name}")
    expect(inspect_button).to_be_visible()
    assert api.delete(f"/v1/projects/{project['id']}").status_code == 204
    inspect_button.click()
    expect(page.get_by_role("alert")).to_have_text("Cannot show that project: resource not found.")
    expect(inspect_button).to_have_count(0)  # the list was read again
