"""Every console page at 1280x720 and 1920x1080, light and dark: saved for review (look at
them) and checked for what a screenshot shows at a glance: nothing wider than the window,
the dark theme really dark, and no error in Reflex's words."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import screenshot
from tests.e2e.test_sandbox_workspace import TABS as SANDBOX_TABS

pytestmark = pytest.mark.e2e

SIZES = ((1280, 720), (1920, 1080))
SCHEMES = ("light", "dark")
# (file name, address, the level-1 heading the page shows once loaded)
PAGES = (
    ("projects", "/projects", "Projects"),
    ("sandboxes", "/sandboxes", "Sandboxes"),
    ("templates", "/templates", "Templates"),
    ("artifacts", "/artifacts", "Artifacts"),
    ("audit", "/audit", "Audit"),
    ("runtime", "/runtime", "Runtime"),
    ("tokens", "/tokens", "API tokens"),
    ("policies", "/policies", "Policies"),
    ("quotas", "/quotas", "Quotas"),
    ("credentials", "/credentials", "Credentials"),
    ("not-found", "/no-such-page", "Page not found"),
)
ADMIN = "Contact the website administrator"
# How far the page spills past the window's right edge (0: it fits).
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The theme's background brightness, 0 (black) to 255 (white): the Radix theme root paints
# the page (the body is transparent).
BRIGHTNESS = """() => {
  const root = document.querySelector('.radix-themes') || document.body;
  const [r, g, b] = getComputedStyle(root).backgroundColor.match(/\\d+/g).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""


def look(page: Page, pytestconfig: pytest.Config, name: str) -> None:
    """Screenshot the page in every size and scheme and check each one."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(150)  # the theme's transition
            shot = f"{name}-{width}x{height}-{scheme}.png"
            assert page.evaluate(OVERFLOW) <= 0, f"{shot}: the page is wider than the window"
            brightness = page.evaluate(BRIGHTNESS)
            assert (brightness < 80) == (scheme == "dark"), f"{shot}: background {brightness}"
            expect(page.get_by_text(ADMIN)).to_have_count(0)
            screenshot(page, pytestconfig, f"screen-{shot}")


@pytest.mark.parametrize(("name", "address", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_fits_both_sizes_in_both_themes(
    page: Page,
    sandbox: dict,
    pytestconfig: pytest.Config,
    name: str,
    address: str,
    heading: str,
) -> None:
    """With a project and a running sandbox in it, so the lists have rows."""
    page.goto(address)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    if name == "sandboxes":
        expect(page.get_by_role("link", name=sandbox["name"])).to_be_visible()
    look(page, pytestconfig, name)


def test_each_sandbox_tab_fits_both_sizes_in_both_themes(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    page.get_by_role("button", name="Show details").click()  # the resource charts
    resources = page.get_by_role("region", name="Resources")
    expect(resources).to_contain_text("Sampled every", timeout=30_000)
    look(page, pytestconfig, "sandbox-details")
    page.get_by_role("button", name="Hide details").click()
    for label in SANDBOX_TABS:
        page.get_by_role("tab", name=label, exact=True).click()
        expect(page.get_by_role("tab", name=label, exact=True)).to_have_attribute(
            "aria-selected", "true"
        )
        look(page, pytestconfig, "sandbox-" + label.lower().replace(" ", "-"))
