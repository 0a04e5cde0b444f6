"""The console acts as whoever signed in: the rail, the buttons and the data follow the
role and project scope of the token used at /login, and what the console does is audited
under that principal."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import sign_in
from tests.e2e.harness import LIFECYCLE_TIMEOUT, Server, screenshot
from tests.support.builders import (
    created,
    make_project,
    make_sandbox,
    suffix,
    template_id,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

RAIL_AREAS = {
    "Projects",
    "Templates",
    "Sandboxes",
    "Artifacts",
    "Policies",
    "Quotas",
    "Credentials",
    "API tokens",
    "Audit",
    "Runtime",
}


def make_token(
    api: httpx.Client, principal: str, role: str, project_ids: list[str] | None = None
) -> str:
    """A new token for `principal` (made with the shared admin token); its secret."""
    body = {"name": f"{principal} e2e", "principal": principal, "role": role}
    if project_ids is not None:
        body["projectIds"] = project_ids
    return created(api.post("/v1/tokens", json=body))["token"]


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator:
    """Opens a console page signed in with a token (a fresh browser context each)."""
    contexts = []

    def open_page(token: str, path: str = "/projects") -> Page:
        context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login?next={path}")
        sign_in(page, token)
        expect(page.get_by_role("region", name="Account")).to_contain_text("Signed in as")
        return page

    yield open_page
    for context in contexts:
        context.close()


def rail_areas(page: Page) -> set[str]:
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Projects")).to_be_visible()
    return {name.strip() for name in nav.get_by_role("link").all_inner_texts()} & RAIL_AREAS


def test_rail_shows_the_areas_the_role_may_use(
    api: httpx.Client, signed_in, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    make_project(api, f"Read {tag}", f"mbox-read-{tag}")  # the policies page shows one
    viewer = signed_in(make_token(api, f"viewer-{tag}", "viewer"))
    account = viewer.get_by_role("region", name="Account")
    expect(account).to_contain_text(f"viewer-{tag}")
    expect(account.locator("#signed-in-role")).to_have_text("viewer")
    expect(account).to_contain_text("All projects")
    assert rail_areas(viewer) == RAIL_AREAS - {"Audit", "Runtime"}
    screenshot(viewer, pytestconfig, "roles-viewer-rail.png")
    # Governance pages are read-only for it.
    viewer.goto("/policies")
    expect(viewer.get_by_text("Read-only: changing a policy needs the govern")).to_be_visible()
    expect(viewer.get_by_role("button", name="Save policy")).to_have_count(0)
    viewer.goto("/credentials")
    expect(viewer.get_by_role("heading", name="Credentials", level=1)).to_be_visible()
    expect(viewer.get_by_role("button", name="New credential")).to_have_count(0)

    auditor = signed_in(make_token(api, f"auditor-{tag}", "auditor"), "/audit")
    expect(auditor.locator("#signed-in-role")).to_have_text("auditor")
    assert rail_areas(auditor) == RAIL_AREAS
    # An auditor reads the audit trail, but may not change projects.
    expect(auditor.get_by_role("heading", name="Audit", level=1)).to_be_visible()
    auditor.goto("/projects")
    expect(auditor.locator("#projects-read-only")).to_be_visible()
    expect(auditor.get_by_role("button", name="Create project")).to_have_count(0)


def test_viewer_cannot_launch_and_the_api_refuses_anyway(
    api: httpx.Client, signed_in, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    project = make_project(api, f"Viewed {tag}", f"mbox-viewed-{tag}")
    shell = template_id(api, "shell")
    sandbox = make_sandbox(api, project["id"], shell, f"viewed-{tag}")
    token = make_token(api, f"viewer-{tag}", "viewer")
    page = signed_in(token, "/sandboxes")
    expect(page.get_by_role("link", name=f"viewed-{tag}")).to_be_visible()
    expect(page.get_by_role("button", name="Launch sandbox")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^(Stop|Start) viewed-"))).to_have_count(0)

    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    page.get_by_role("tab", name="Tasks").click()
    expect(page.get_by_text("Your role may look here but not run commands.")).to_be_visible()
    expect(page.get_by_role("button", name="Run", exact=True)).to_have_count(0)
    screenshot(page, pytestconfig, "roles-viewer-sandbox.png")

    viewer_api = {"Authorization": f"Bearer {token}"}
    body = {"projectId": project["id"], "templateId": shell, "name": f"sneaky-{tag}"}
    refused = httpx.post(f"{api.base_url}/v1/sandboxes", json=body, headers=viewer_api)
    assert refused.status_code == 403, refused.text
    assert "viewer role cannot" in refused.json()["error"]
    api.delete(f"/v1/sandboxes/{sandbox['id']}")


def test_scoped_developer_sees_its_project_and_is_audited_by_name(
    api: httpx.Client, signed_in
) -> None:
    tag = suffix()
    mine = make_project(api, f"Mine {tag}", f"mbox-mine-{tag}")
    theirs = make_project(api, f"Theirs {tag}", f"mbox-theirs-{tag}")
    shell = template_id(api, "shell")
    own = make_sandbox(api, mine["id"], shell, f"own-{tag}")
    make_sandbox(api, theirs["id"], shell, f"other-{tag}")
    own = wait_for_status(api, own, "running", LIFECYCLE_TIMEOUT / 1000)
    name = f"dev-{tag}"
    page = signed_in(make_token(api, name, "developer", [mine["id"]]), "/sandboxes")
    expect(page.locator("#signed-in-scope")).to_have_text("1 project")

    table = page.get_by_role("table", name="Sandboxes")
    expect(table.get_by_role("link", name=f"own-{tag}")).to_be_visible()
    expect(table.get_by_role("link", name=f"other-{tag}")).to_have_count(0)
    page.goto(f"/sandboxes?project={theirs['id']}")  # no way around the scope
    expect(
        page.get_by_role("table", name="Sandboxes").get_by_role("link", name=f"other-{tag}")
    ).to_have_count(0)

    page.goto("/sandboxes")
    page.get_by_role("button", name=f"Stop own-{tag}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(page.get_by_role("status")).to_have_text(f"Stopped own-{tag}.")
    events = api.get(
        "/v1/audit-events", params={"action": "sandbox.stopped", "resourceId": own["id"]}
    ).json()["items"]
    assert [(e["principal"], e["actor"], e["source"]) for e in events] == [(name, name, "console")]
    api.delete(f"/v1/sandboxes/{own['id']}")


def test_a_refusal_is_said_in_words(api: httpx.Client, signed_in) -> None:
    """A developer may launch but not delete a shared template: the service says why."""
    shell = api.get(f"/v1/templates/{template_id(api, 'shell')}").json()["name"]
    page = signed_in(make_token(api, f"dev-{suffix()}", "developer"), "/templates")
    page.get_by_role("button", name=f"Delete {shell}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete template").click()
    expect(page.get_by_role("alert").filter(has_text="Not allowed")).to_contain_text(
        "Not allowed: the developer role cannot"
    )
