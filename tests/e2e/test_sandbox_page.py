"""The sandbox page around its tabs, in Chromium against the real server and local
runtime: Stop asks first and says how many tasks it kills, the open tab is in the address
(a reload and a shared link keep it), a success banner goes with the next action."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TOKEN
from tests.e2e.harness import LIFECYCLE_TIMEOUT

pytestmark = pytest.mark.e2e


def open_sandbox(page: Page, sandbox: dict, query: str = "") -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes/{sandbox['id']}{query}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text("Running")


def selected_tab(page: Page, name: str) -> None:
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute(
        "aria-selected", "true"
    )


def test_stop_asks_first_and_counts_running_tasks(
    page: Page, api: httpx.Client, sandbox: dict
) -> None:
    task = api.post(
        f"/v1/sandboxes/{sandbox['id']}/tasks",
        json={"command": ["sleep", "120"], "timeoutSeconds": 300},
    )
    task.raise_for_status()
    open_sandbox(page, sandbox)
    status = page.get_by_role("group", name="Sandbox status")

    page.get_by_role("button", name="Stop", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Stop this sandbox?")
    expect(dialog).to_contain_text("1 running task will be killed")
    dialog.get_by_role("button", name="Cancel").click()  # asked, not done
    expect(dialog).to_have_count(0)
    expect(status).to_contain_text("Running")
    assert api.get(f"/v1/tasks/{task.json()['id']}").json()["status"] in ("queued", "running")

    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(status).to_contain_text("Stopped", timeout=LIFECYCLE_TIMEOUT)
    expect(
        page.get_by_role("status").filter(has_text="Stopped: every process ended")
    ).to_be_visible()

    # The next action's words replace the last one's: no stale success banner.
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_text("Stopped: every process ended")).to_have_count(0)
    expect(page.get_by_text("Start requested.")).to_be_visible()
    page.get_by_role("tab", name="Logs").click()
    expect(page.get_by_text("Start requested.")).to_have_count(0)


def test_the_open_tab_is_in_the_address(page: Page, sandbox: dict) -> None:
    open_sandbox(page, sandbox)
    selected_tab(page, "Terminal")  # a running sandbox's default
    page.get_by_role("tab", name="Events").click()
    selected_tab(page, "Events")
    expect(page).to_have_url(re.compile(r"\?tab=events$"))

    page.reload()
    selected_tab(page, "Events")
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text("Running")
    page.wait_for_timeout(500)  # the page's default (Terminal) does not take over
    selected_tab(page, "Events")

    # A shared link opens its tab; an unknown one falls back to the default.
    other = page.context.new_page()
    other.goto(f"/sandboxes/{sandbox['id']}?tab=boundary")
    selected_tab(other, "Boundary")
    other.close()
    unknown = page.context.new_page()
    unknown.goto(f"/sandboxes/{sandbox['id']}?tab=nonsense")
    selected_tab(unknown, "Terminal")
    unknown.close()


def test_use_from_code_names_the_sandbox_and_no_token(
    page: Page, sandbox: dict, base_url: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    open_sandbox(page, sandbox, "?tab=code")
    selected_tab(page, "Use from code")
    snippet = page.get_by_role("region", name="Snippet")
    for language, says in (
        ("CLI", f"mbox tasks run {sandbox['id']}"),
        ("Python SDK", f'mbox.sandboxes.get("{sandbox["id"]}")'),
        ("curl", f"/v1/sandboxes/{sandbox['id']}/tasks?wait=60"),
    ):
        page.get_by_role("radio", name=language).click()
        expect(snippet).to_contain_text(says)
        expect(snippet).to_contain_text(base_url)
        expect(snippet).to_contain_text("MBOX_TOKEN")
        expect(snippet).not_to_contain_text(TOKEN)  # never the token the console signed in with
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert sandbox["id"] in copied and "MBOX_TOKEN" in copied and TOKEN not in copied


def test_live_resource_charts_in_the_details(page: Page, sandbox: dict) -> None:
    """The details show the sampler's CPU, memory, disk, processes and network as small
    charts, refreshed with the page's tick; what is unknown reads "—", never 0."""
    open_sandbox(page, sandbox)
    page.get_by_role("button", name="Show details").click()
    resources = page.get_by_role("region", name="Resources")
    expect(resources).to_contain_text("Sampled every", timeout=30_000)  # a round has run
    for title in ("CPU", "Memory", "Disk", "Processes", "Network"):
        expect(resources.get_by_role("img", name=re.compile(rf"^{title}: "))).to_be_visible()
    memory = resources.get_by_role("img", name=re.compile(r"^Memory: "))
    expect(memory).not_to_have_attribute("aria-label", re.compile(r"^Memory: 0 B"))
    page.get_by_role("button", name="Hide details").click()
    expect(resources).to_have_count(0)
