"""The audit page in Chromium against the real server: events made through the API appear,
filters narrow by action and by project (also from the projects page's link), an event's
details show its metadata with the request id, bad input is refused in words, Clear resets."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import screenshot

pytestmark = pytest.mark.e2e


def test_feed_filters_and_event_details(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    suffix = uuid.uuid4().hex[:6]
    request_id = f"req-e2e-{suffix}"
    first = api.post(
        "/v1/projects",
        json={"name": f"Audit A {suffix}", "defaultNamespace": "mbox-a"},
        headers={"X-Mbox-Request-ID": request_id, "X-Mbox-Audit-Actor": "ci-bot"},
    ).json()
    second = api.post(
        "/v1/projects", json={"name": f"Audit B {suffix}", "defaultNamespace": "mbox-b"}
    ).json()
    renamed = api.patch(f"/v1/projects/{second['id']}", json={"repositoryUrl": "https://x.test"})
    assert renamed.status_code == 200, renamed.text

    page.goto("/audit")
    expect(page.get_by_role("heading", name="Audit", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Audit events")
    expect(table.get_by_role("row").filter(has_text=first["slug"])).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text=second["slug"])).to_have_count(2)
    # The hash chain is verified when the page opens, and says so in words.
    chain = page.get_by_role("region", name="Audit chain")
    expect(chain).to_contain_text(re.compile(r"Chain intact: \d+ events verified"))

    # Filter by action (Enter submits).
    action = page.get_by_label("Action", exact=True)
    action.fill("project.updated")
    action.press("Enter")
    expect(table.get_by_role("row").filter(has_text=second["slug"])).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text=first["slug"])).to_have_count(0)

    # Clear resets every field and the feed.
    page.get_by_role("button", name="Clear").click()
    expect(action).to_have_value("")
    expect(table.get_by_role("row").filter(has_text=first["slug"])).to_have_count(1)

    # Filter by project with the select.
    page.get_by_label("Project", exact=True).click()
    page.get_by_role("option", name=first["name"]).click()
    page.get_by_role("button", name="Filter").click()
    expect(table.get_by_role("row").filter(has_text=second["slug"])).to_have_count(0)
    rows = table.get_by_role("row").filter(has_text=first["slug"])
    expect(rows).to_have_count(1)

    # The event's details: every field and its metadata, with the request id.
    rows.get_by_role("button", name=re.compile("^Details of project.created")).press("Enter")
    dialog = page.get_by_role("dialog", name="project.created")
    expect(dialog).to_contain_text(request_id)
    expect(dialog).to_contain_text("ci-bot")
    metadata = dialog.get_by_label("Metadata")
    expect(metadata).to_contain_text(f'"requestId": "{request_id}"')
    expect(metadata).to_contain_text('"defaultNamespace": "mbox-a"')
    page.wait_for_timeout(400)  # the dialog's opening animation
    screenshot(page, pytestconfig, "audit-detail-light.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # A row click opens it too; it links to the project's inspector.
    rows.get_by_role("cell").first.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("link", name="Open the project").click()
    expect(page.get_by_role("region", name=f"Project {first['name']}")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="Audit", level=1)).to_be_visible()

    # Bad input is refused in words.
    since = page.get_by_label("Since")
    since.fill("yesterday")
    since.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("since must be an RFC3339 timestamp")
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    screenshot(page, pytestconfig, "audit-light.png")
    page.get_by_role("button", name="Toggle dark mode").click()
    screenshot(page, pytestconfig, "audit-dark.png")
    page.get_by_role("button", name="Toggle dark mode").click()

    # The projects page links here, filtered to the project.
    page.goto(f"/audit?project={second['id']}")
    expect(table.get_by_role("row").filter(has_text=second["slug"])).to_have_count(2)
    expect(table.get_by_role("row").filter(has_text=first["slug"])).to_have_count(0)
    expect(page.get_by_label("Project", exact=True)).to_have_text(second["name"])


def test_load_more_reaches_older_events(page: Page, api: httpx.Client) -> None:
    actor = f"bulk-{uuid.uuid4().hex[:6]}"
    made = []
    for index in range(55):
        created = api.post(
            "/v1/projects",
            json={"name": f"{actor} {index}", "defaultNamespace": "mbox-bulk"},
            headers={"X-Mbox-Audit-Actor": actor},
        )
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    page.goto("/audit")
    actor_filter = page.get_by_label("Actor", exact=True)
    actor_filter.fill(actor)
    actor_filter.press("Enter")
    body_rows = page.get_by_role("table", name="Audit events").locator("tbody tr")
    expect(body_rows).to_have_count(50)
    expect(page.get_by_text("50 events shown, newest first")).to_be_visible()
    page.get_by_role("button", name="Load more").click()
    expect(body_rows).to_have_count(55)
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    # Newest first: the first project made is the last row.
    expect(body_rows.last).to_contain_text(f"{actor}-0")
    for project_id in made:  # keep the shared server's project list short
        api.delete(f"/v1/projects/{project_id}")
