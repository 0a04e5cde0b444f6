"""The governance pages: API tokens (the secret shown once, revocation), launch policy with
its preview, quotas against usage, credential references."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import screenshot
from tests.support.builders import make_project, make_sandbox, make_template, suffix, template_id

pytestmark = pytest.mark.e2e


def pick(page: Page, control_id: str, option: str | re.Pattern) -> None:
    page.locator(f"#{control_id}").click()
    page.get_by_role("option", name=option).click()


def test_a_token_is_shown_once_and_revoked(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    page.goto("/tokens")
    page.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill(f"ci-{tag}")
    dialog.get_by_label("Principal").fill(f"bot-{tag}")
    pick(page, "token-role", "Developer")
    dialog.get_by_role("button", name="Create token").click()

    shown = page.locator("#new-token-secret")
    expect(shown).to_have_text(re.compile(r"^mbx_"))
    secret = shown.inner_text()
    screenshot(page, pytestconfig, "tokens-secret-once.png")
    page.get_by_role("button", name="Done").click()
    expect(shown).to_have_count(0)
    assert secret not in page.content()  # gone for good: only its prefix is listed
    row = page.get_by_role("row").filter(has_text=f"ci-{tag}")
    expect(row).to_contain_text(secret[:12])
    expect(row).to_contain_text("active")

    whoami = httpx.get(f"{api.base_url}/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert (whoami.json()["principal"], whoami.json()["role"]) == (f"bot-{tag}", "developer")

    row.get_by_role("button", name=f"Revoke ci-{tag}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("status")).to_contain_text(f"Revoked ci-{tag}")
    expect(row).to_contain_text("revoked")
    refused = httpx.get(f"{api.base_url}/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


def test_policy_saves_and_previews_what_it_would_deny(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    project = make_project(api, f"Governed {tag}", f"mbox-governed-{tag}")
    make_template(api, project["id"], f"Local {tag}")  # image host
    page.goto(f"/policies?project={project['id']}")
    summary = page.locator("#policy-preview-summary")
    expect(summary).to_contain_text("a disabled policy denies nothing")

    pick(page, "policy-enforcement", re.compile("^Enforced"))
    page.locator("#policy-images").fill("ghcr.io/acme/")
    expect(summary).to_contain_text("this policy would deny")
    denied = page.get_by_role("list", name="Would be denied")
    expect(denied).to_contain_text(f"Local {tag}")
    expect(denied).to_contain_text('image "host" is not allowed')
    screenshot(page, pytestconfig, "policies-preview.png", full_page=True)

    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved the launch policy of Governed {tag}.")
    stored = api.get(f"/v1/projects/{project['id']}/policy").json()
    assert (stored["enforcement"], stored["allowedImagePrefixes"]) == (
        "enforced",
        ["ghcr.io/acme/"],
    )


def test_quotas_show_usage_bars_and_save(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    tag = suffix()
    project = make_project(api, f"Metered {tag}", f"mbox-metered-{tag}")
    quota = {"enforcement": "enforced", "maxActiveSandboxes": 4}
    assert api.put(f"/v1/projects/{project['id']}/quota-policy", json=quota).status_code == 200
    sandbox = make_sandbox(api, project["id"], template_id(api, "shell"), f"metered-{tag}")

    page.goto(f"/quotas?project={project['id']}")
    usage = page.get_by_role("region", name="Quota usage")
    expect(usage.get_by_role("img", name="Active sandboxes: 1 of 4 (25%)")).to_be_visible()
    expect(usage).to_contain_text("Tasks in progress")
    screenshot(page, pytestconfig, "quotas.png", full_page=True)

    page.locator("#quota-maxRunningSandboxes").fill("3")
    page.get_by_role("button", name="Save quotas").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved the quotas of Metered {tag}.")
    expect(
        usage.get_by_role("img", name=re.compile(r"^Running sandboxes: \d of 3"))
    ).to_be_visible()
    stored = api.get(f"/v1/projects/{project['id']}/quota-policy").json()
    assert (stored["maxActiveSandboxes"], stored["maxRunningSandboxes"]) == (4, 3)
    api.delete(f"/v1/sandboxes/{sandbox['id']}")


def test_credentials_are_references_without_values(page: Page, api: httpx.Client) -> None:
    tag = suffix()
    project = make_project(api, f"Keyed {tag}", f"mbox-keyed-{tag}")
    page.goto(f"/credentials?project={project['id']}")
    page.get_by_role("button", name="New credential").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill(f"Registry {tag}")
    dialog.get_by_label("Secret name").fill("registry-pull")
    dialog.get_by_label("Key").fill(".dockerconfigjson")
    dialog.get_by_label("Usage").fill("sandbox")
    dialog.get_by_role("button", name="Create credential").click()
    expect(page.get_by_role("status")).to_have_text(f"Created credential Registry {tag}.")
    row = page.get_by_role("row").filter(has_text=f"Registry {tag}")
    expect(row).to_contain_text("registry-pull / .dockerconfigjson")
    expect(row).to_contain_text("every sandbox")
    [stored] = api.get(f"/v1/projects/{project['id']}/credentials").json()["items"]
    assert stored["secretRef"] == {"name": "registry-pull", "key": ".dockerconfigjson"}

    row.get_by_role("button", name=f"Delete Registry {tag}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete credential").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted credential Registry {tag}.")
    expect(row).to_have_count(0)
