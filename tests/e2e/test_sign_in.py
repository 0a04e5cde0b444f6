"""With MBOX_API_TOKEN set, the console asks for the token once and keeps a session."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import TOKEN, sign_in
from tests.e2e.harness import Server, screenshot

pytestmark = pytest.mark.e2e


def test_console_requires_the_token(browser: Browser, server: Server, api: httpx.Client) -> None:
    page = browser.new_page(base_url=server.url)  # a fresh context: no session yet
    page.goto("/projects")
    expect(page).to_have_url(f"{server.url}/login?next=/projects")
    sign_in(page, "wrong")
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")

    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Secured")
    expect(page.get_by_label("Default namespace")).to_have_value("mbox-secured")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("status")).to_have_text("Created project Secured.")

    # The API itself still wants the bearer token; the cookie is for the console only.
    assert httpx.get(f"{server.url}/v1/projects").status_code == 401
    assert "Secured" in [p["name"] for p in api.get("/v1/projects").json()["items"]]
    page.close()


def test_rail_says_who_is_signed_in_and_signs_out(
    browser: Browser, server: Server, pytestconfig: pytest.Config
) -> None:
    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 720})
    page.goto("/policies")
    sign_in(page, TOKEN)
    account = page.get_by_role("region", name="Account")
    expect(account).to_contain_text("Signed in as")
    expect(account).to_contain_text("the shared API token")
    screenshot(page, pytestconfig, "signed-in-rail.png")

    # Keyboard: the first Tab stop skips the navigation.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    account.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.url}/login")
    screenshot(page, pytestconfig, "sign-in.png")
    page.goto("/projects")  # the session is gone
    expect(page).to_have_url(f"{server.url}/login?next=/projects")
    page.close()
