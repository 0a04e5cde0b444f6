"""The console's ways around, in Chromium against the real server: a styled 404 with the
ways back; a template card's Launch (the built-in Python template offers http 8000); the
list filters in the address (a reload keeps them); a quota denial and a refused project
delete that link to where they are resolved; audit rows that name tasks by command;
notices that go with the next action; and names too long for their place, cut with the
whole name on hover and in accessible names."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot
from tests.support.builders import (
    make_project,
    make_sandbox,
    suffix,
    template_id,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

ADMIN = "Contact the website administrator"


def test_an_unknown_address_is_a_styled_page_with_ways_back(
    page: Page, pytestconfig: pytest.Config
) -> None:
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="Projects")).to_be_visible()
    screenshot(page, pytestconfig, "not-found.png")
    page.get_by_role("main").get_by_role("link", name="Sandboxes").click()
    expect(page.get_by_role("heading", name="Sandboxes", level=1)).to_be_visible()


def test_a_template_card_launches_with_its_template_preselected(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, f"Card launch {suffix()}")
    page.goto(f"/templates?q=python&scope={project['id']}")
    expect(page.get_by_role("searchbox", name="Search templates")).to_have_value("python")
    page.goto("/templates?q=python")
    page.get_by_role("button", name="Launch Python").click()
    dialog = page.get_by_role("dialog", name="Launch sandbox")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Template", exact=True)).to_have_text("Python")
    plan = dialog.get_by_role("region", name="Launch plan").or_(
        dialog.locator("section[aria-label='Launch plan']")
    )
    expect(plan.first).to_contain_text("http :8000")
    screenshot(page, pytestconfig, "template-card-launch.png")
    python = next(t for t in api.get("/v1/templates").json()["items"] if t["slug"] == "python")
    assert python["exposedPorts"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]


def test_list_filters_live_in_the_address(page: Page, api: httpx.Client) -> None:
    tag = suffix()
    project = make_project(api, f"Filtered {tag}")
    page.goto("/sandboxes")
    page.get_by_label("Filter by status").click()
    page.get_by_role("option", name="Running").click()
    expect(page).to_have_url(re.compile(r"/sandboxes\?status=running$"))
    page.reload()
    expect(page.get_by_label("Filter by status")).to_have_text("Running")

    page.goto("/templates")
    page.get_by_role("searchbox", name="Search templates").fill("node")
    expect(page).to_have_url(re.compile(r"/templates\?q=node$"))
    page.reload()
    expect(page.get_by_role("searchbox", name="Search templates")).to_have_value("node")
    expect(page.get_by_role("article", name="Node.js")).to_be_visible()
    expect(page.get_by_role("article", name="Shell", exact=True)).to_have_count(0)

    page.goto(f"/audit?project={project['id']}")
    form = page.get_by_role("form", name="Filter audit events")
    form.get_by_label("Action", exact=True).fill("project.created")
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=project\.created"))
    expect(page).to_have_url(re.compile(f"project={project['id']}"))
    page.reload()
    expect(form.get_by_label("Action", exact=True)).to_have_value("project.created")
    rows = page.get_by_role("table", name="Audit events").get_by_role("row")
    expect(rows.filter(has_text="project.created")).to_have_count(1)


def test_refusals_link_to_where_they_are_resolved(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    project = make_project(api, f"Refusals {tag}")
    shell = template_id(api, "shell")
    sandbox = wait_for_status(
        api,
        make_sandbox(api, project["id"], shell, f"blocker-{tag}"),
        "running",
        LIFECYCLE_TIMEOUT / 1000,
    )
    quota = {"enforcement": "enforced", "maxActiveSandboxes": 1}
    assert api.put(f"/v1/projects/{project['id']}/quota-policy", json=quota).status_code == 200

    # The launch plan says which limit blocks it and links to where it is set.
    page.goto(f"/sandboxes?project={project['id']}&launch={shell}")
    dialog = page.get_by_role("dialog", name="Launch sandbox")
    preflight = dialog.get_by_role("region", name="Preflight").or_(
        dialog.locator("section[aria-label='Preflight']")
    )
    expect(preflight.first).to_contain_text("Launch blocked")
    fix = preflight.first.get_by_role("link", name="Change the project's quotas")
    expect(fix).to_have_attribute("href", f"/quotas?project={project['id']}")
    screenshot(page, pytestconfig, "launch-blocked-by-quota.png")
    fix.click()
    expect(page.get_by_role("heading", name="Quotas", level=1)).to_be_visible()
    expect(page.locator("#quota-maxActiveSandboxes")).to_have_value("1")

    # A refused delete counts the sandboxes in the way and links to them.
    page.goto(f"/projects?project={project['id']}")
    inspector = page.get_by_role("region", name=f"Project Refusals {tag}")
    inspector.get_by_role("button", name="Delete").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    expect(inspector.get_by_role("alert")).to_contain_text("1 sandbox is in the way")
    assert ADMIN not in page.content()
    inspector.get_by_role("link", name="Show the sandboxes in the way").click()
    expect(page).to_have_url(re.compile(f"/sandboxes\\?project={project['id']}$"))
    listed = page.get_by_role("table").get_by_role("row").filter(has_text=f"blocker-{tag}")
    expect(listed).to_have_count(1)
    api.delete(f"/v1/sandboxes/{sandbox['id']}")


def test_audit_rows_name_tasks_by_command(page: Page, api: httpx.Client, sandbox: dict) -> None:
    made = api.post(
        f"/v1/sandboxes/{sandbox['id']}/tasks",
        params={"wait": 10},
        json={"command": ["echo", "audit-row"]},
    )
    assert made.status_code in (200, 201), made.text
    page.goto(f"/audit?action=execution.task.created&project={sandbox['projectId']}")
    table = page.get_by_role("table", name="Audit events")
    subject = table.get_by_role("link", name="Task: echo audit-row")
    expect(subject).to_have_attribute("href", f"/sandboxes/{sandbox['id']}")
    expect(table).not_to_contain_text(made.json()["id"])


def test_notices_go_with_the_next_action(page: Page, api: httpx.Client) -> None:
    tag = suffix()
    other = make_project(api, f"Other {tag}")
    page.goto("/projects")
    page.get_by_label("Name", exact=True).fill(f"Noticed {tag}")
    page.get_by_role("button", name="Create project").click()
    notice = page.get_by_role("status").filter(has_text=f"Created project Noticed {tag}.")
    expect(notice).to_be_visible()
    page.get_by_role("button", name=f"Inspect {other['name']}").click()
    expect(notice).to_have_count(0)


def test_long_names_stay_in_their_place(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    long_name = f"Long {suffix()} " + "very-long-project-name-" * 12
    long_name = long_name.strip()[:200]
    project = make_project(api, long_name, f"mbox-long-{suffix()}")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/projects")
    table = page.get_by_role("table", name="Projects")
    expect(table).to_be_visible()
    cell = table.get_by_title(long_name, exact=True).first
    expect(cell).to_be_visible()  # the whole name on hover
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # The row's button is whole: the table's columns still fit beside the form.
    expect(page.get_by_role("button", name=f"Inspect {long_name}")).to_be_in_viewport(ratio=0.99)
    screenshot(page, pytestconfig, "long-project-name.png", full_page=True)

    sandbox = make_sandbox(api, project["id"], template_id(api, "shell"), long_name)
    page.goto(f"/sandboxes?project={project['id']}")
    row = page.get_by_role("row").filter(has=page.get_by_title(long_name, exact=True))
    expect(row.get_by_role("checkbox", name=f"Select {long_name}")).to_be_visible()
    expect(row.get_by_role("button").last).to_be_in_viewport(ratio=0.99)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, pytestconfig, "long-sandbox-name.png")
    api.delete(f"/v1/sandboxes/{sandbox['id']}")

    page.goto(f"/policies?project={project['id']}")
    picker = page.locator("#governed-project")
    expect(picker).to_be_visible()
    box = picker.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
