"""The console in Chromium against the real server: navigation and the projects page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SIGNED_IN

pytestmark = pytest.mark.e2e


def create_project(page: Page, name: str, repository_url: str = "") -> None:
    page.get_by_label("Name", exact=True).fill(name)
    if repository_url:
        page.get_by_label("Repository URL").fill(repository_url)
    page.get_by_role("button", name="Create project").click()


def test_create_project_lists_it_in_console_and_api(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    page.goto("/projects")
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Payments API")
    # The namespace follows the slug until edited.
    expect(page.get_by_label("Default namespace")).to_have_value("mbox-payments-api")
    create_project(page, "Payments API", "https://github.com/acme/payments")

    expect(page.get_by_role("status")).to_have_text("Created project Payments API.")
    table = page.get_by_role("table", name="Projects")
    row = table.get_by_role("row", name=re.compile("Payments API"))
    expect(row).to_contain_text("payments-api")
    expect(row).to_contain_text("mbox-payments-api")
    repository = row.get_by_role("link", name="github.com/acme/payments")
    expect(repository).to_have_attribute("href", "https://github.com/acme/payments")
    expect(page.get_by_label("Name", exact=True)).to_have_value("")

    items = api.get("/v1/projects").json()["items"]
    assert ("Payments API", "payments-api", "mbox-payments-api") in [
        (p["name"], p["slug"], p["defaultNamespace"]) for p in items
    ]
    # The console went through the service door: audited as whoever signed in, source console.
    events = api.get("/v1/audit-events", params={"resourceType": "project"}).json()["items"]
    created = [e for e in events if e["resourceName"] == "payments-api"]
    assert [(e["action"], e["principal"], e["source"]) for e in created] == [
        ("project.created", SIGNED_IN, "console")
    ]

    output = Path(pytestconfig.getoption("--output"))
    output.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=output / "projects.png", full_page=True)


def test_service_error_is_shown_next_to_the_form(page: Page) -> None:
    page.goto("/projects")
    create_project(page, "Billing")
    expect(page.get_by_role("row", name=re.compile("Billing"))).to_be_visible()

    create_project(page, "Billing")
    expect(page.get_by_role("alert")).to_have_text('a project with slug "billing" already exists')
    # Editing the form clears the stale error.
    page.get_by_label("Name", exact=True).fill("Billing v2")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_navigation_reaches_every_area(page: Page) -> None:
    page.goto("/")
    nav = page.get_by_role("navigation", name="Console")
    areas = ["Policies", "Quotas", "Credentials", "API tokens", "Templates", "Sandboxes"]
    for label in [*areas, "Audit", "Runtime", "Projects"]:
        nav.get_by_role("link", name=label).click()
        expect(page.get_by_role("heading", name=label, level=1)).to_be_visible()
    expect(nav.get_by_role("link", name="Projects")).to_have_attribute("aria-current", "page")
