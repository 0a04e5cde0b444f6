"""The sandbox page in Chromium against the real server and local runtime: the overview
(status, start-up phases, lifetime), every tab in the issue's order and by keyboard, the
Boundary tab's checklist and facts, status changes pushed without a reload (stop, start),
renewing a lease, and deleting with confirmation. Screenshots of every tab at 1280x720,
the overview and the boundary in light and dark."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot
from tests.support.builders import make_project, make_sandbox, make_template, suffix

pytestmark = pytest.mark.e2e

TABS = [
    "Terminal",
    "Preview",
    "Tasks",
    "Run code",
    "Files",
    "Artifacts",
    "Logs",
    "Events",
    "Sessions",
    "Boundary",
    "Use from code",
]
# A pushed change shows well before the page's fallback tick (3 s) would show it.
PUSHED_TIMEOUT = 2_500


def open_sandbox(page: Page, sandbox: dict) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(status(page)).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)


def status(page: Page):
    return page.get_by_role("group", name="Sandbox status")


def open_tab(page: Page, tab: str) -> None:
    page.get_by_role("tab", name=tab, exact=True).click()
    expect(page.get_by_role("tab", name=tab, exact=True)).to_have_attribute("aria-selected", "true")


def check(page: Page, label: str):
    return page.get_by_role("list", name="Boundary checks").get_by_role(
        "listitem", name=label, exact=True
    )


def dark_mode(page: Page) -> None:
    page.get_by_role("button", name="Toggle dark mode").click()
    expect(page.locator("html")).to_have_class(re.compile("dark"))


def light_mode(page: Page) -> None:
    page.get_by_role("button", name="Toggle dark mode").click()
    expect(page.locator("html")).not_to_have_class(re.compile("dark"))


def test_overview_tabs_and_boundary(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_sandbox(page, sandbox)
    page.get_by_role("button", name="Show details").click()
    startup = page.get_by_role("region", name="Start-up")
    expect(startup).to_contain_text(re.compile(r"Ready in \d+(\.\d)? (ms|s)"))
    for phase in ("Requested", "Runtime started", "Ready"):
        expect(startup).to_contain_text(phase)
    expect(page.get_by_role("region", name="Lifetime")).to_contain_text("Idle timeout 1 h")
    screenshot(page, pytestconfig, "workspace-overview-light.png")
    dark_mode(page)
    screenshot(page, pytestconfig, "workspace-overview-dark.png")
    light_mode(page)

    # The tab order; arrow keys move between tabs (Radix tabs).
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_count(len(TABS))
    for index, name in enumerate(TABS):
        expect(tabs.nth(index)).to_have_accessible_name(name)
    page.get_by_role("tab", name="Sessions").focus()
    page.keyboard.press("ArrowRight")
    boundary = page.get_by_role("tab", name="Boundary")
    expect(boundary).to_be_focused()
    expect(boundary).to_have_attribute("aria-selected", "true")

    # The checklist: the reference's checks in order, then this runtime's own.
    checks = page.get_by_role("list", name="Boundary checks").get_by_role("listitem")
    expect(checks).to_have_count(11)
    expect(check(page, "Namespace")).to_contain_text("Pass")
    expect(check(page, "Service account token")).to_contain_text("No service account token")
    expect(check(page, "Launch policy")).to_contain_text("Warning")
    expect(check(page, "Launch policy")).to_contain_text("not enforced")
    expect(check(page, "Lifecycle policy")).to_contain_text("idle timeout 3600 s")
    expect(check(page, "Runtime reference")).to_contain_text("Pass")
    expect(check(page, "Image")).to_contain_text("No image: it runs this machine's own")
    expect(check(page, "Isolation")).to_contain_text("bubblewrap")
    expect(page.get_by_text(re.compile(r"\d+ passed · \d+ warnings? · 0 failed"))).to_be_visible()
    # Facts, grouped in words.
    for group, fact in (
        ("Identity & placement", sandbox["namespace"]),
        ("Isolation", "Host filesystem read-only"),
        ("Network", "Loopback only"),
        ("Secrets & credentials", "None in this project"),
        ("Lifecycle", "Idle timeout 1 h, enforced by the lifetime engine"),
        ("Launch policy", "Disabled"),
    ):
        expect(page.get_by_role("region", name=group)).to_contain_text(fact)
    screenshot(page, pytestconfig, "workspace-boundary-light.png", full_page=True)
    dark_mode(page)
    screenshot(page, pytestconfig, "workspace-boundary-dark.png", full_page=True)
    light_mode(page)

    for tab in TABS[:-1]:
        open_tab(page, tab)
        page.wait_for_timeout(300)  # let the tab's first read land
        screenshot(page, pytestconfig, f"workspace-tab-{tab.lower()}.png")


def test_status_changes_are_pushed(page: Page, api: httpx.Client, sandbox: dict) -> None:
    open_sandbox(page, sandbox)
    page.get_by_role("button", name="Show details").click()
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(status(page)).to_contain_text("Stopped", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("region", name="Start-up")).to_contain_text("Stopped")
    page.get_by_role("button", name="Start").click()
    expect(status(page)).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()

    # Changes made elsewhere (here: the API) arrive without a reload, pushed.
    api.post(f"/v1/sandboxes/{sandbox['id']}/stop").raise_for_status()
    expect(status(page)).to_contain_text("Stopped", timeout=PUSHED_TIMEOUT)
    api.post(f"/v1/sandboxes/{sandbox['id']}/start").raise_for_status()
    expect(status(page)).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("region", name="Start-up")).to_contain_text("Ready in")


def leased_sandbox(api: httpx.Client) -> dict:
    """A running sandbox whose template has a one-hour lease, in a project of its own."""
    tag = suffix()
    project = make_project(api, f"Lease {tag}", f"mbox-{tag}")
    template = make_template(
        api, project["id"], f"Leased shell {tag}", lifecyclePolicy={"ttlSeconds": 3600}
    )
    return make_sandbox(api, project["id"], template["id"], f"leased-{tag}")


def test_renew_then_delete_with_confirmation(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    sandbox = leased_sandbox(api)
    open_sandbox(page, sandbox)
    page.get_by_role("button", name="Show details").click()
    lifetime = page.get_by_role("region", name="Lifetime")
    expect(lifetime).to_contain_text(re.compile(r"Expires in (59 min|1 h)"))
    before = api.get(f"/v1/sandboxes/{sandbox['id']}").json()["expiresAt"]
    time.sleep(1.1)  # the renewed lease ends measurably later
    page.get_by_role("button", name="Renew lease").click()
    renewed = page.get_by_role("status").filter(has_text="Lease renewed")
    expect(renewed).to_contain_text(re.compile(r"Lease renewed: expires in (59 min|1 h)"))
    after = api.get(f"/v1/sandboxes/{sandbox['id']}").json()["expiresAt"]
    assert after > before
    open_tab(page, "Boundary")
    expect(check(page, "Lifecycle policy")).to_contain_text("ttl 3600 s")

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text(sandbox["name"])
    page.wait_for_timeout(300)  # the dialog's fade-in
    screenshot(page, pytestconfig, "workspace-delete-confirm.png")
    dialog.get_by_role("button", name="Delete sandbox").click()
    expect(page).to_have_url(re.compile(r"/sandboxes$"))
    expect(page.get_by_role("status")).to_have_text(f"Deleted sandbox {sandbox['name']}.")
    assert api.get(f"/v1/sandboxes/{sandbox['id']}").status_code == 404


def test_a_validation_run_records_its_verdict_from_the_sandbox_page(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    suffix = uuid.uuid4().hex[:6]
    project = api.post(
        "/v1/projects", json={"name": f"Verdict {suffix}", "defaultNamespace": f"mbox-v-{suffix}"}
    ).json()
    shell = next(t for t in api.get("/v1/templates").json()["items"] if t["slug"] == "shell")
    template = api.post(  # the project's own copy: the built-in Shell keeps its verdict
        "/v1/templates",
        json={
            "projectId": project["id"],
            "name": f"Tryout {suffix}",
            "image": shell["image"],  # no startup command: the sandbox idles
        },
    ).json()
    run = api.post(
        f"/v1/templates/{template['id']}/validation-runs", json={"projectId": project["id"]}
    )
    assert run.status_code == 201, run.text
    sandbox = run.json()["sandbox"]
    open_sandbox(page, sandbox)

    banner = page.get_by_role("region", name="Validation run")
    expect(banner).to_contain_text(f"Validation run of the Tryout {suffix} template: try it")
    screenshot(page, pytestconfig, "workspace-validation-run.png")
    banner.get_by_role("button", name="Mark failed").click()
    expect(page.get_by_role("status").filter(has_text="Recorded")).to_have_text(
        f"Recorded: Tryout {suffix} failed validation. The sandbox still runs: stop or "
        "delete it when you are done."
    )
    expect(banner).to_contain_text("marked failed")
    stored = api.get(f"/v1/templates/{template['id']}").json()["metadata"]
    assert (stored["validationStatus"], stored["validationSandboxId"]) == ("failed", sandbox["id"])

    banner.get_by_role("button", name="Mark passed").click()  # a second look may change it
    expect(banner).to_contain_text("marked passed")
    assert api.get(f"/v1/templates/{template['id']}").json()["metadata"]["validationStatus"] == (
        "passed"
    )
    # Decided: the run's sandbox need not go on running; the banner offers to end it.
    expect(banner.get_by_role("button", name="Delete sandbox")).to_be_visible()
    banner.get_by_role("button", name="Stop sandbox").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(status(page)).to_contain_text("Stopped", timeout=LIFECYCLE_TIMEOUT)
    expect(banner.get_by_role("button", name="Stop sandbox")).to_have_count(0)
    api.delete(f"/v1/sandboxes/{sandbox['id']}")
