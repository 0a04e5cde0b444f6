"""The sandboxes console in Chromium against the real server and local runtime: launch from
the built-in Shell template, watch it run, stop, start and delete it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import SIGNED_IN
from tests.e2e.harness import LIFECYCLE_TIMEOUT
from tests.support.builders import make_project

pytestmark = pytest.mark.e2e

SANDBOX_URL = re.compile(r"/sandboxes/[0-9a-f-]{36}$")


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.get_by_label(label, exact=True)).to_have_text(option)


def open_launch(page: Page) -> Locator:
    page.get_by_role("button", name="Launch sandbox").click()
    dialog = page.get_by_role("dialog", name="Launch sandbox")
    expect(dialog).to_be_visible()
    return dialog


def launch(page: Page, project: str, template: str, name: str) -> None:
    open_launch(page)
    choose(page, "Project", project)
    choose(page, "Template", template)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Launch", exact=True).click()


def screenshot(page: Page, pytestconfig: pytest.Config, name: str) -> None:
    output = Path(pytestconfig.getoption("--output"))
    output.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=output / name)


def test_launch_stop_start_and_delete_a_sandbox(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, "Sandbox Lab", "mbox-sandbox-lab")
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
    expect(page.get_by_role("group", name="Sandbox summary")).to_contain_text("Ready in")
    page.get_by_role("button", name="Show details").click()
    startup = page.get_by_role("region", name="Start-up")
    expect(startup).to_contain_text(re.compile(r"Ready in \d+(\.\d)? (ms|s)"))
    expect(startup).to_contain_text("Runtime started")
    expect(page.get_by_role("region", name="Runtime")).to_contain_text("local Sandbox local/")

    page.get_by_role("tab", name="Events").click()
    events = page.get_by_role("table", name="Runtime events")
    expect(events.get_by_role("row", name=re.compile("Started"))).to_be_visible()
    screenshot(page, pytestconfig, "sandbox.png")

    page.get_by_role("button", name="Stop").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
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
    expect(page.get_by_text("1\u20131 of 1", exact=True)).to_be_visible()
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

    # The console went through the service door, as whoever signed in.
    assert api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404
    listed = api.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"]
    assert [s for s in listed if s["id"] == sandbox_id] == []
    audit = api.get("/v1/audit-events", params={"resourceType": "sandbox"}).json()["items"]
    actions = {(e["action"], e["principal"]) for e in audit if e["resourceId"] == sandbox_id}
    assert {
        ("sandbox.created", SIGNED_IN),
        ("sandbox.stopped", SIGNED_IN),
        ("sandbox.started", SIGNED_IN),
        ("sandbox.deleted", SIGNED_IN),
    } <= actions


def test_launch_errors_are_shown_in_words(page: Page, api: httpx.Client) -> None:
    make_project(api, "Twin Lab", "mbox-twin-lab")
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


def test_launch_plan_shows_what_the_service_will_use(page: Page, api: httpx.Client) -> None:
    make_project(api, "Plan Lab", "mbox-plan-lab")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/sandboxes")
    dialog = open_launch(page)
    choose(page, "Project", "Plan Lab")
    choose(page, "Template", "Shell")
    page.get_by_label("Name", exact=True).fill("My Plan #1")
    plan = dialog.get_by_role("region", name="Launch plan")
    expect(plan).to_contain_text("my-plan-1")
    expect(plan).to_contain_text("mbox-plan-lab")
    expect(plan).to_contain_text("mbox-sandbox")
    expect(dialog.get_by_role("region", name="Preflight")).to_contain_text("Ready to launch")
    expect(dialog.get_by_role("button", name="Launch", exact=True)).to_be_enabled()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_preflight_shows_blockers_before_the_click(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, "Quota Lab", "mbox-quota-lab")
    quota = {"enforcement": "enforced", "maxActiveSandboxes": 1}
    assert api.put(f"/v1/projects/{project['id']}/quota-policy", json=quota).status_code == 200
    [sandbox] = stopped_sandboxes(api, project, ["only-one"])
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/sandboxes")
    dialog = open_launch(page)
    choose(page, "Project", "Quota Lab")
    choose(page, "Template", "Shell")
    verdict = dialog.get_by_role("region", name="Preflight")
    expect(verdict).to_contain_text("Launch blocked")
    expect(verdict).to_contain_text("active sandbox quota exceeded: maxActiveSandboxes=1 active=1")
    launch_button = dialog.get_by_role("button", name="Launch", exact=True)
    expect(launch_button).to_be_disabled()
    page.wait_for_timeout(300)  # the dialog's entry animation
    screenshot(page, pytestconfig, "sandboxes-launch-blocked.png")
    page.emulate_media(color_scheme="dark")  # the console follows the system's theme
    screenshot(page, pytestconfig, "sandboxes-launch-blocked-dark.png")
    page.emulate_media(color_scheme="light")

    # Freed elsewhere: the open preview follows.
    assert api.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 204
    expect(verdict).to_contain_text("Ready to launch")
    expect(launch_button).to_be_enabled()

    # The launch policy is checked the same way.
    policy = {"enforcement": "enforced", "allowedServiceAccounts": ["builder"]}
    assert api.put(f"/v1/projects/{project['id']}/policy", json=policy).status_code == 200
    expect(verdict).to_contain_text('serviceAccountName "mbox-sandbox" is not allowed')
    expect(launch_button).to_be_disabled()


def test_unknown_sandbox_says_so(page: Page) -> None:
    page.goto("/sandboxes/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("heading", name="Sandbox unavailable", level=1)).to_be_visible()
    page.get_by_role("link", name="Back to Sandboxes").click()
    expect(page.get_by_role("heading", name="Sandboxes", level=1)).to_be_visible()


def stopped_sandboxes(api: httpx.Client, project: dict, names: list[str]) -> list[dict]:
    """Sandboxes of the Shell template, stopped at once (many, without loading the machine)."""
    template = next(t for t in api.get("/v1/templates").json()["items"] if t["slug"] == "shell")
    made = []
    for name in names:
        payload = {"projectId": project["id"], "templateId": template["id"], "name": name}
        created = api.post("/v1/sandboxes", json=payload)
        assert created.status_code == 201, created.text
        stopped = api.post(f"/v1/sandboxes/{created.json()['id']}/stop")
        assert stopped.status_code == 200, stopped.text
        made.append(stopped.json())
    return made


def pages_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Sandbox pages")


def test_filters_and_pages_narrow_the_list(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, "Paging Lab", "mbox-paging-lab")
    stopped_sandboxes(api, project, [f"page-{n:02}" for n in range(55)])
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/sandboxes")
    choose(page, "Filter by project", "Paging Lab")
    table = page.get_by_role("table", name="Sandboxes")
    expect(pages_nav(page)).to_contain_text("1\u201350 of 55")
    # Newest first: the last one made leads the first page; the first one is on page two.
    expect(table.get_by_role("row").nth(1)).to_contain_text("page-54")
    expect(table.get_by_role("row", name=re.compile("page-00"))).to_have_count(0)
    screenshot(page, pytestconfig, "sandboxes-paged.png")

    pages_nav(page).get_by_role("button", name="Next").click()
    expect(pages_nav(page)).to_contain_text("51\u201355 of 55")
    expect(table.get_by_role("row", name=re.compile("page-00"))).to_be_visible()
    expect(pages_nav(page).get_by_role("button", name="Next")).to_be_disabled()
    pages_nav(page).get_by_role("button", name="Previous").click()
    expect(pages_nav(page)).to_contain_text("1\u201350 of 55")

    page.get_by_label("Search sandboxes").fill("page-07")
    expect(page.get_by_text("1\u20131 of 1", exact=True)).to_be_visible()
    expect(pages_nav(page)).to_have_count(0)  # one page: nothing to page through
    expect(table.get_by_role("row", name=re.compile("page-07"))).to_be_visible()
    choose(page, "Filter by status", "Running")
    expect(page.get_by_role("heading", name="No sandboxes match these filters")).to_be_visible()
    choose(page, "Filter by status", "Stopped")
    expect(page.get_by_text("1\u20131 of 1", exact=True)).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_label("Search sandboxes")).to_have_value("")
    expect(page.get_by_label("Filter by project")).to_have_text("All projects")


def test_bulk_stop_then_bulk_delete_with_confirmation(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, "Bulk Lab", "mbox-bulk-lab")
    names = ["bulk-a", "bulk-b", "bulk-c"]
    stopped = stopped_sandboxes(api, project, names)
    for sandbox in stopped:  # running again, so there is something to stop
        assert api.post(f"/v1/sandboxes/{sandbox['id']}/start").status_code == 200
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes?project={project['id']}")  # a link to a project's sandboxes
    expect(page.get_by_label("Filter by project")).to_have_text("Bulk Lab")
    table = page.get_by_role("table", name="Sandboxes")
    for name in names:
        expect(table.get_by_role("row", name=re.compile(name))).to_contain_text(
            "Running", timeout=LIFECYCLE_TIMEOUT
        )

    page.get_by_role("checkbox", name="Select all on this page").click()
    expect(page.get_by_text("3 selected")).to_be_visible()
    page.get_by_role("button", name="Stop selected").click()
    dialog = page.get_by_role("alertdialog")
    for name in names:
        expect(dialog.get_by_role("list", name="Affected sandboxes")).to_contain_text(name)
    page.wait_for_timeout(300)  # the dialog's entry animation
    screenshot(page, pytestconfig, "sandboxes-bulk-stop.png")
    dialog.get_by_role("button", name="Stop sandboxes").click()
    expect(page.get_by_role("status")).to_have_text("Stopped 3 sandboxes.")
    for name in names:
        expect(table.get_by_role("row", name=re.compile(name))).to_contain_text("Stopped")

    # Two picked by hand (one with the keyboard).
    page.get_by_role("checkbox", name="Select bulk-b").click()
    page.get_by_role("checkbox", name="Select bulk-c").press("Space")
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("alertdialog")
    affected = dialog.get_by_role("list", name="Affected sandboxes")
    expect(affected.get_by_role("listitem")).to_have_count(2)
    expect(affected).not_to_contain_text("bulk-a")
    dialog.get_by_role("button", name="Delete sandboxes").click()
    expect(page.get_by_role("status")).to_have_text("Deleted 2 sandboxes.")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and bulk-a
    listed = api.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"]
    assert [s["name"] for s in listed] == ["bulk-a"]
    audit = api.get("/v1/audit-events", params={"action": "sandbox.deleted"}).json()["items"]
    assert {e["resourceName"] for e in audit if e["principal"] == SIGNED_IN} >= {
        "bulk-b",
        "bulk-c",
    }


def test_status_changes_are_pushed_to_the_open_list(page: Page, api: httpx.Client) -> None:
    project = make_project(api, "Push Lab", "mbox-push-lab")
    [sandbox] = stopped_sandboxes(api, project, ["pushed"])
    page.goto("/sandboxes")
    choose(page, "Filter by project", "Push Lab")
    row = page.get_by_role("table", name="Sandboxes").get_by_role("row", name=re.compile("pushed"))
    expect(row).to_contain_text("Stopped")

    # Changed elsewhere (the API): the row follows without a reload, well before the
    # 30 s fallback re-read.
    assert api.post(f"/v1/sandboxes/{sandbox['id']}/start").status_code == 200
    expect(row).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    assert api.post(f"/v1/sandboxes/{sandbox['id']}/stop").status_code == 200
    expect(row).to_contain_text("Stopped", timeout=2_000)

    # The row's own Start and Stop.
    row.get_by_role("button", name="Start pushed").click()
    expect(row).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    row.get_by_role("button", name="Stop pushed").click()
    page.get_by_role("alertdialog", name="Stop pushed?").get_by_role(
        "button", name="Stop sandbox"
    ).click()
    expect(row).to_contain_text("Stopped by request")
