"""The template library in Chromium against the real server: create a template through the
dialog, find it by search and filters, edit it (an invalid port list is refused in words and
saves nothing), validate it (landing on the run's sandbox page), mark the run passed, and
delete a template with confirmation (one still in use is refused in words)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import SIGNED_IN
from tests.e2e.harness import screenshot
from tests.support.builders import make_project

pytestmark = pytest.mark.e2e

SANDBOX_URL = re.compile(r"/sandboxes/[0-9a-f-]{36}$")


def template_named(api: httpx.Client, name: str) -> dict | None:
    items = api.get("/v1/templates").json()["items"]
    return next((t for t in items if t["name"] == name), None)


def choose(scope: Page | Locator, page: Page, label: str, option: str) -> None:
    scope.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(scope.get_by_label(label, exact=True)).to_have_text(option)


def cards(page: Page) -> Locator:
    return page.get_by_role("list", name="Template library").get_by_role("article")


def test_create_find_edit_validate_and_delete(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    suffix = uuid.uuid4().hex[:4]
    project = make_project(api, f"Shop {suffix}")
    name = f"Checkout API {suffix}"
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/templates")
    expect(page.get_by_role("heading", name="Templates", level=1)).to_be_visible()
    shell = page.get_by_role("article", name="Shell", exact=True)
    expect(shell).to_contain_text("Built-in")
    expect(shell).to_contain_text("Global")

    # Create: Essentials (a runtime presets image, command and ports) and one Advanced field.
    page.get_by_role("button", name="New template").click()
    dialog = page.get_by_role("dialog", name="New template")
    choose(dialog, page, "Scope", project["name"])
    dialog.get_by_label("Name", exact=True).fill(name)
    choose(dialog, page, "Runtime", "Go")
    expect(dialog.get_by_label("Preview ports")).to_have_value("api:8080")
    choose(dialog, page, "Size", "Medium · 500m CPU, 1Gi")
    dialog.get_by_label("Use case").fill("The checkout service")
    make_default = dialog.get_by_label("Use as the project's default template")
    make_default.click()  # a controlled checkbox: its state comes back from the server
    expect(make_default).to_be_checked()
    screenshot(page, pytestconfig, "templates-dialog.png")
    dialog.get_by_text("Advanced", exact=True).click()
    expect(dialog.get_by_label("Image")).to_have_value("golang:1.24-bookworm")
    dialog.get_by_label("Workspace storage").fill("5Gi")
    screenshot(page, pytestconfig, "templates-dialog-advanced.png")
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Created")).to_have_text(
        f"Created template {name}."
    )

    card = page.get_by_role("article", name=name)
    for text in (
        "Go",
        project["name"],
        "Not tested",
        "The checkout service",
        "golang:1.24-bookworm",
        "Terminal, api :8080",
        "Medium · 500m CPU · 1Gi",
        "Workspace 5Gi",
        "Default",
    ):
        expect(card).to_contain_text(text)
    stored = template_named(api, name)
    assert stored is not None and stored["projectId"] == project["id"]
    assert stored["storageRequest"] == "5Gi" and stored["cpuRequest"] == "500m"
    assert stored["metadata"]["runtimeType"] == "Go"
    project_now = api.get(f"/v1/projects/{project['id']}").json()
    assert project_now["defaultTemplateId"] == stored["id"]

    # Search and filters narrow the cards.
    page.get_by_label("Search templates").fill(f"checkout api {suffix}")
    expect(cards(page)).to_have_count(1)
    expect(page.get_by_text(re.compile(r"^1 of \d+ templates$"))).to_be_visible()
    page.get_by_label("Search templates").fill("")
    choose(page, page, "Runtime", "Go")
    expect(card).to_be_visible()
    expect(shell).to_have_count(0)
    choose(page, page, "Validation", "Validated")
    expect(page.get_by_role("heading", name="No template matches")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    choose(page, page, "Scope", project["name"])
    expect(cards(page)).to_have_count(1)
    choose(page, page, "Scope", "All scopes")
    expect(shell).to_be_visible()
    screenshot(page, pytestconfig, "templates-light.png")

    # Edit: an invalid port list is refused in the service's words and saves nothing.
    page.get_by_role("button", name=f"Edit {name}").click()
    dialog = page.get_by_role("dialog", name="Edit template")
    expect(dialog.get_by_label("Name", exact=True)).to_have_value(name)
    dialog.get_by_label("Preview ports").fill("api:70000")
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog.get_by_role("alert")).to_have_text("port must be between 1 and 65535")
    dialog.get_by_label("Preview ports").fill("api:8080, docs")
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog.get_by_role("alert")).to_contain_text('"docs" is not name:port')
    assert template_named(api, name)["exposedPorts"] == [
        {"name": "api", "port": 8080, "protocol": ""}
    ]
    dialog.get_by_label("Preview ports").fill("api:8080, docs:6060")
    dialog.get_by_label("Use case").fill("Checkout and its docs")
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog).to_have_count(0)
    expect(card).to_contain_text("Terminal, api :8080, docs :6060")
    expect(card).to_contain_text("Checkout and its docs")

    # Validate: a run is a sandbox; the console lands on its page.
    card.get_by_role("button", name=f"Validate {name}").click()
    expect(page).to_have_url(SANDBOX_URL)
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=f"Validate {name}", level=1)).to_be_visible()
    page.goto("/templates")
    expect(card).to_contain_text("Testing")
    expect(card.get_by_role("link", name=re.compile("Latest run"))).to_have_attribute(
        "href", f"/sandboxes/{run_id}"
    )
    screenshot(card, pytestconfig, "templates-card-testing.png")
    card.get_by_role("button", name=f"Mark passed: {name}").click()
    expect(card).to_contain_text("Validated")
    expect(card.get_by_role("button", name=f"Mark passed: {name}")).to_have_count(0)
    stored = template_named(api, name)
    assert stored["metadata"]["validationStatus"] == "passed"
    assert stored["metadata"]["validationSandboxId"] == run_id
    # The console went through the service door, as whoever signed in.
    events = api.get("/v1/audit-events", params={"resourceId": stored["id"]}).json()["items"]
    actions = {(e["action"], e["principal"]) for e in events}
    assert {
        ("template.created", SIGNED_IN),
        ("template.updated", SIGNED_IN),
        ("template.validation.started", SIGNED_IN),
        ("template.validation.decided", SIGNED_IN),
    } <= actions

    page.get_by_role("button", name="Toggle dark mode").click()
    page.wait_for_timeout(300)  # the theme's transition
    screenshot(page, pytestconfig, "templates-dark.png")
    page.get_by_role("button", name="Toggle dark mode").click()

    # Delete: refused in words while its validation sandbox exists.
    card.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete template").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Could not delete {name}: template is still used by sandboxes"
    )
    expect(card).to_be_visible()


def test_delete_a_template_with_confirmation(page: Page, api: httpx.Client) -> None:
    name = f"Scratch {uuid.uuid4().hex[:4]}"
    created = api.post("/v1/templates", json={"name": name, "image": "alpine:3"})
    assert created.status_code == 201, created.text
    page.goto("/templates")
    card = page.get_by_role("article", name=name)
    expect(card).to_contain_text("Not tested")
    expect(card).to_contain_text("Ephemeral workspace")
    card.get_by_role("button", name=f"Delete {name}").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(name)
    confirm.get_by_role("button", name="Delete template").click()
    expect(page.get_by_role("status").filter(has_text="Deleted")).to_have_text(
        f"Deleted template {name}."
    )
    expect(card).to_have_count(0)
    assert api.get(f"/v1/templates/{created.json()['id']}").status_code == 404


def test_validate_a_global_template_in_a_chosen_project(
    page: Page, api: httpx.Client, pytestconfig: pytest.Config
) -> None:
    project = make_project(api, f"Trial {uuid.uuid4().hex[:4]}")
    name = f"Global tool {uuid.uuid4().hex[:4]}"
    created = api.post("/v1/templates", json={"name": name, "image": "host"})
    assert created.status_code == 201, created.text
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/templates")
    page.get_by_role("button", name=f"Validate {name}").click()
    dialog = page.get_by_role("dialog", name="Validate template")
    choose(dialog, page, "Project", project["name"])
    screenshot(dialog, pytestconfig, "templates-validate-dialog.png")
    dialog.get_by_role("button", name="Launch validation run").click()
    expect(page).to_have_url(SANDBOX_URL)
    run = api.get(f"/v1/sandboxes/{page.url.rsplit('/', 1)[1]}").json()
    assert run["projectId"] == project["id"]
    assert run["metadata"]["purpose"] == "environment-validation"


def test_build_recipe_pull_policy_and_build_state(page: Page, api: httpx.Client) -> None:
    """The dialog's Advanced section takes a pull policy and a build recipe as JSON: invalid
    JSON is said in words next to the field and saves nothing, the service's refusal of a
    recipe is said in words, and a saved recipe shows in the inspector with its build state
    (not built: nothing launched it)."""
    name = f"Built Python {uuid.uuid4().hex[:4]}"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/templates")
    page.get_by_role("button", name="New template").click()
    dialog = page.get_by_role("dialog", name="New template")
    dialog.get_by_label("Name", exact=True).fill(name)
    choose(dialog, page, "Runtime", "Python")
    dialog.get_by_text("Advanced", exact=True).click()
    choose(dialog, page, "Pull policy", "IfNotPresent")
    recipe = dialog.get_by_label("Build recipe (JSON)")
    save = dialog.get_by_role("button", name="Save template")

    recipe.fill('{"base": "debian:bookworm", "packages": ["python3"')
    save.click()
    expect(dialog.get_by_role("alert").filter(has_text="Build recipe")).to_contain_text(
        "Build recipe: not valid JSON"
    )
    expect(dialog).to_be_visible()
    assert template_named(api, name) is None

    recipe.fill('{"base": "ubuntu:24.04"}')  # JSON, but a base the service refuses
    expect(dialog.get_by_role("alert")).to_have_count(0)  # the field's words go with an edit
    save.click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "build.base must be debian:bookworm or debian:trixie"
    )
    assert template_named(api, name) is None

    recipe.fill(
        '{"base": "debian:bookworm", "packages": ["python3", "git"], '
        '"files": [{"path": "/etc/motd", "content": "hello\\n"}]}'
    )
    save.click()
    expect(dialog).to_have_count(0)
    stored = template_named(api, name)
    assert stored is not None
    assert stored["imagePullPolicy"] == "IfNotPresent"
    assert stored["build"]["base"] == "debian:bookworm"
    assert stored["build"]["packages"] == ["git", "python3"]
    assert [f["path"] for f in stored["build"]["files"]] == ["/etc/motd"]

    card = page.get_by_role("article", name=name)
    expect(card).to_contain_text("debian:bookworm · 2 packages")
    card.get_by_role("button", name=f"Inspect {name}").click()
    inspector = page.get_by_role("dialog", name=name)
    recipe_list = inspector.get_by_label("Build recipe")
    for text in ("IfNotPresent", "debian:bookworm", "git", "python3", "/etc/motd", "user"):
        expect(recipe_list).to_contain_text(text)
    state = inspector.get_by_label("Build state: Not built yet")
    expect(state).to_have_attribute("title", "not-built")
    expect(inspector.get_by_text("No build output yet.")).to_be_visible()
    build = api.get(f"/v1/templates/{stored['id']}/build").json()
    assert build["state"] == "not-built"
    inspector.get_by_role("button", name="Close").click()
    expect(inspector).to_have_count(0)

    # Edit: the recipe comes back as JSON; blanking it removes the build.
    card.get_by_role("button", name=f"Edit {name}").click()
    dialog = page.get_by_role("dialog", name="Edit template")
    dialog.get_by_text("Advanced", exact=True).click()
    expect(dialog.get_by_label("Build recipe (JSON)")).to_have_value(
        re.compile(r'"base": "debian:bookworm"')
    )
    dialog.get_by_label("Build recipe (JSON)").fill("")
    dialog.get_by_role("button", name="Save template").click()
    expect(dialog).to_have_count(0)
    stored = template_named(api, name)
    assert stored is not None and not stored.get("build")
    expect(card).not_to_contain_text("packages")
    api.delete(f"/v1/templates/{stored['id']}")
