"""Every console form, fed bad input in Chromium against the real
server: 5,000 characters, blank (spaces), unicode and control characters. Whatever the
service thinks of it, the page answers in words (next to the field the refusal names),
never with Reflex's "Contact the website administrator", its buttons work again, and a
refusal creates or changes nothing (checked through the API)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.harness import Server, screenshot
from tests.e2e.test_runtime_page import leave_orphan_workspace
from tests.support.builders import make_project, suffix, template_id

pytestmark = pytest.mark.e2e

OVERSIZED = "x" * 5000
BAD = {
    "oversized": OVERSIZED,
    "blank": "   ",  # passes the browser's `required`: the console's own check answers
    "unicode": "名前🚀",
    "control": "a\x07b\x1bc",
}
# Refused by every form; unicode and control characters are the service's call (names of
# projects, templates and sandboxes refuse both: their slug or a control character).
REFUSED = ("oversized", "blank")
ADMIN = "Contact the website administrator"
WORDS = re.compile(r"[A-Za-z]{3,}.*[A-Za-z]{3,}")  # a sentence, not a code or a blank


def messages(scope: Locator) -> Locator:
    """A refusal: the form's alert, or the words under a field (`<id>-error`)."""
    return scope.locator("[role=alert], [id$='-error']").filter(has_text=WORDS)


def answer(page: Page, scope: Locator, done: Locator) -> bool:
    """Wait for the page's answer to a submit: a refusal in words (False) or `done` (True).
    Reflex's own failure message never appears."""
    expect(messages(scope).or_(done).first).to_be_visible()
    assert ADMIN not in page.content()
    return not messages(scope).count()


def at_field(scope: Locator, control_id: str) -> None:
    """The refusal is next to the field: the control is invalid and described by it."""
    control = scope.locator(f"#{control_id}")
    try:
        expect(control).to_have_attribute("aria-invalid", "true")
    except AssertionError as exc:
        raise AssertionError(f"not at {control_id}: {messages(scope).all_inner_texts()}") from exc
    expect(control).to_have_attribute("aria-describedby", f"{control_id}-error")
    expect(scope.locator(f"#{control_id}-error")).to_have_text(WORDS)


def no_alert(scope: Locator) -> None:
    expect(messages(scope)).to_have_count(0)


def names(api: httpx.Client, path: str) -> set[str]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return {item.get("name") for item in response.json()["items"]}


def sweep(
    page: Page,
    scope: Locator,
    *,
    fill: Callable[[str], None],
    submit: Locator,
    done: Locator,
    field: str,
    after_success: Callable[[str], None] = lambda value: None,
) -> dict[str, bool]:
    """Feed every BAD value through `fill` and `submit`; return which were accepted."""
    accepted = {}
    for kind, value in BAD.items():
        fill(value)
        no_alert(scope)  # an edit clears the last refusal and the last notice
        expect(done).to_have_count(0)
        submit.click()
        accepted[kind] = answer(page, scope, done)
        if accepted[kind]:
            assert kind not in REFUSED, f"{kind} input was accepted"
            after_success(value)
            continue
        expect(submit).to_be_enabled()
        if kind == "oversized":
            at_field(scope, field)
    return accepted


def test_project_forms(page: Page, api: httpx.Client, pytestconfig: pytest.Config) -> None:
    page.goto("/projects")
    form = page.get_by_role("form", name="New project")
    name = form.get_by_label("Name", exact=True)
    before = names(api, "/v1/projects")
    accepted = sweep(
        page,
        form,
        fill=name.fill,
        submit=form.get_by_role("button", name="Create project"),
        done=page.get_by_role("status").filter(has_text="Created project"),
        field="project-name",
    )
    assert not any(accepted.values())  # a unicode name has no slug; controls are refused
    name.fill(OVERSIZED)
    no_alert(form)  # the edit reached the server (a submit must not overtake it)
    form.get_by_role("button", name="Create project").click()
    at_field(form, "project-name")
    screenshot(page, pytestconfig, "bad-input-project-name.png")
    assert names(api, "/v1/projects") == before

    # The edit dialog: a refusal keeps the name as it was (a unicode name is fine here:
    # the slug does not change).
    project = make_project(api, f"Edited {suffix()}")
    page.goto(f"/projects?project={project['id']}")
    dialog = page.get_by_role("dialog", name="Edit project")
    for kind, value in BAD.items():
        before = api.get(f"/v1/projects/{project['id']}").json()["name"]
        if not dialog.count():
            page.get_by_role("button", name="Edit", exact=True).click()
        dialog.get_by_label("Name", exact=True).fill(value)
        no_alert(dialog)
        dialog.get_by_role("button", name="Save changes").click()
        accepted = answer(page, dialog, page.get_by_role("status").filter(has_text="Saved"))
        after = api.get(f"/v1/projects/{project['id']}").json()["name"]
        if accepted:
            assert kind not in REFUSED and after == value
            continue
        expect(dialog.get_by_role("button", name="Save changes")).to_be_enabled()
        assert after == before
        if kind == "oversized":
            at_field(dialog, "edit-project-name")
    api.delete(f"/v1/projects/{project['id']}")


def test_template_dialog(page: Page, api: httpx.Client, pytestconfig: pytest.Config) -> None:
    page.goto("/templates")
    before = names(api, "/v1/templates")
    page.get_by_role("button", name="New template").click()
    dialog = page.get_by_role("dialog", name="New template")
    save = dialog.get_by_role("button", name="Save template")
    accepted = sweep(
        page,
        dialog,
        fill=dialog.get_by_label("Name", exact=True).fill,
        submit=save,
        done=page.get_by_role("status").filter(has_text="Created"),
        field="template-name",
    )
    assert not any(accepted.values())
    dialog.get_by_label("Name", exact=True).fill(OVERSIZED)
    no_alert(dialog)
    save.click()
    at_field(dialog, "template-name")
    screenshot(page, pytestconfig, "bad-input-template-name.png")

    # A port out of range is said next to the ports field (the service names exposedPorts).
    dialog.get_by_label("Name", exact=True).fill(f"Ports {suffix()}")
    dialog.get_by_label("Preview ports").fill("web:99999")
    no_alert(dialog)
    save.click()
    at_field(dialog, "template-ports")
    expect(save).to_be_enabled()
    assert names(api, "/v1/templates") == before


def test_launch_dialog(page: Page, api: httpx.Client) -> None:
    tag = suffix()
    project = make_project(api, f"Launch input {tag}")
    shell = template_id(api, "shell")
    page.goto(f"/sandboxes?project={project['id']}&launch={shell}")
    dialog = page.get_by_role("dialog", name="Launch sandbox")
    expect(dialog).to_be_visible()
    launch = dialog.get_by_role("button", name="Launch", exact=True)
    expect(launch).to_be_enabled()  # the plan is read: Shell in this project may launch
    for kind in ("oversized", "unicode", "control"):  # blank launches with the suggestion
        dialog.get_by_label("Name", exact=True).fill(BAD[kind])
        no_alert(dialog)
        launch.click()
        expect(messages(dialog).first).to_be_visible()
        assert ADMIN not in page.content()
        expect(launch).to_be_enabled()
        if kind == "oversized":
            at_field(dialog, "sandbox-name")
    assert api.get("/v1/sandboxes", params={"projectId": project["id"]}).json()["items"] == []


def named_field(api: httpx.Client, path: str, body: dict) -> str:
    """The field the API's refusal of `body` names ("" for none): where the page must
    show the same refusal."""
    refused = api.post(path, json=body)
    assert refused.status_code == 400, refused.text
    return (refused.json().get("detail") or {}).get("field", "")


def test_token_dialog(page: Page, api: httpx.Client) -> None:
    names_its_field = named_field(api, "/v1/tokens", {"name": OVERSIZED}) == "name"
    page.goto("/tokens")
    before = names(api, "/v1/tokens")
    for kind, value in BAD.items():
        page.get_by_role("button", name="New token").click()
        dialog = page.get_by_role("dialog", name="New API token")
        dialog.get_by_label("Name", exact=True).fill(value)
        if dialog.get_by_label("Principal").count():  # a token manager names whose it is
            dialog.get_by_label("Principal").fill(f"bot-{suffix()}")
        create = dialog.get_by_role("button", name="Create token")
        create.click()
        if answer(page, dialog, page.get_by_role("button", name="Done")):
            assert kind not in REFUSED
            page.get_by_role("button", name="Done").click()
            continue
        expect(create).to_be_enabled()
        if kind == "oversized" and names_its_field:
            at_field(dialog, "token-name")
        dialog.get_by_role("button", name="Cancel").click()
    for token in api.get("/v1/tokens").json()["items"]:
        if token["name"] not in before:
            assert token["name"] in BAD.values()
            api.delete(f"/v1/tokens/{token['id']}")
    assert OVERSIZED not in names(api, "/v1/tokens")


def test_credential_dialog(page: Page, api: httpx.Client) -> None:
    project = make_project(api, f"Credential input {suffix()}")
    page.goto(f"/credentials?project={project['id']}")
    path = f"/v1/projects/{project['id']}/credentials"
    for kind, value in BAD.items():
        page.get_by_role("button", name="New credential").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Name", exact=True).fill(value)
        dialog.get_by_label("Secret name").fill("registry-pull")
        create = dialog.get_by_role("button", name="Create credential")
        create.click()
        if answer(page, dialog, page.get_by_role("status").filter(has_text="Created credential")):
            assert kind not in REFUSED
            continue
        expect(create).to_be_enabled()
        if kind == "oversized":
            at_field(dialog, "credential-name")
        dialog.get_by_role("button", name="Cancel").click()
    assert names(api, path) <= {BAD["unicode"], BAD["control"]}


def test_policy_and_quota_forms(page: Page, api: httpx.Client) -> None:
    project = make_project(api, f"Governed input {suffix()}")
    policy_path = f"/v1/projects/{project['id']}/policy"
    page.goto(f"/policies?project={project['id']}")
    form = page.get_by_role("form", name="Launch policy")
    images = form.get_by_label("Allowed image prefixes")
    save = form.get_by_role("button", name="Save policy")
    for value in BAD.values():
        before = api.get(policy_path).json()
        images.fill(value)
        done = page.get_by_role("status").filter(has_text="Saved the launch policy")
        expect(done).to_have_count(0)  # the edit cleared the last save's notice
        save.click()
        if not answer(page, page.locator("main"), done):
            expect(save).to_be_enabled()
            assert api.get(policy_path).json() == before

    quota_path = f"/v1/projects/{project['id']}/quota-policy"
    page.goto(f"/quotas?project={project['id']}")
    form = page.get_by_role("form", name="Quota limits")
    save = form.get_by_role("button", name="Save quotas")
    before = api.get(quota_path).json()
    for kind, value in BAD.items():
        form.locator("#quota-maxActiveSandboxes").fill(value)
        no_alert(form)
        done = page.get_by_role("status").filter(has_text="Saved the quotas")
        expect(done).to_have_count(0)
        save.click()
        if answer(page, page.locator("main"), done):
            assert kind == "blank"  # blank is no limit
            continue
        expect(save).to_be_enabled()
        at_field(form, "quota-maxActiveSandboxes")  # the limit's own words, next to it
    after = api.get(quota_path).json()
    assert after.get("maxActiveSandboxes") == before.get("maxActiveSandboxes")


def test_audit_filters(page: Page) -> None:
    page.goto("/audit")
    table_or_empty = page.get_by_role("table", name="Audit events").or_(
        page.get_by_text("No events match")
    )
    expect(table_or_empty.first).to_be_visible()
    form = page.get_by_role("form", name="Filter audit events")
    for label in ("Action", "Since"):
        for value in BAD.values():
            page.get_by_role("button", name="Clear").click()
            no_alert(page.locator("main"))
            form.get_by_label(label, exact=True).fill(value)
            form.get_by_role("button", name="Filter").click()
            answer(page, page.locator("main"), table_or_empty.first)
            expect(form.get_by_role("button", name="Filter")).to_be_enabled()
    assert ADMIN not in page.content()


def test_runtime_cleanup_confirmation(page: Page, api: httpx.Client, server: Server) -> None:
    project = make_project(api, f"Cleanup input {suffix()}")
    orphan_id = leave_orphan_workspace(server, project["id"])
    page.goto("/runtime")
    orphans = page.get_by_role("table", name="Orphan runtime resources")
    row = orphans.get_by_role("row").filter(has_text=orphan_id)
    expect(row).to_have_count(1)
    row.get_by_role("button", name=f"Clean up Workspace {orphan_id}").click()
    dialog = page.get_by_role("dialog", name="Clean up Workspace")
    typed = dialog.get_by_label("Type the resource's name to confirm")
    delete = dialog.get_by_role("button", name="Delete resource")
    for value in BAD.values():
        typed.fill(value)
        expect(delete).to_be_disabled()  # only the exact name confirms
        typed.press("Enter")  # a submit anyway: refused in words, nothing deleted
        assert ADMIN not in page.content()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)


def test_sandbox_page_forms(page: Page, api: httpx.Client, sandbox: dict) -> None:
    """The sandbox page's forms: a task's command and timeout, a new file's path, a
    declared port's name. Bad input is answered in words (the task form's next to its
    field), never with Reflex's message, and the form works again."""
    page.goto(f"/sandboxes/{sandbox['id']}?tab=tasks")
    form = page.get_by_role("form", name="Run a command")
    run = form.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled()
    for n, value in enumerate(("0", "601", BAD["unicode"], BAD["control"], OVERSIZED)):
        form.get_by_label("Timeout (s)").fill(value)  # (blank is the default, 60 s)
        form.get_by_label("Command", exact=True).fill(f"echo {n}")
        no_alert(form)  # a command edit clears the last refusal
        run.click()
        at_field(form, "task-timeout")
        expect(run).to_be_enabled()
    form.get_by_label("Timeout (s)").fill("60")
    form.get_by_label("Command", exact=True).fill("   ")
    no_alert(form)
    run.click()
    at_field(form, "task-command")
    assert api.get(f"/v1/sandboxes/{sandbox['id']}/tasks").json()["items"] == []

    # A file name may hold unicode and control characters (Linux allows them; the page
    # shows them as text); an oversized or blank path is refused.
    page.get_by_role("tab", name="Files", exact=True).click()
    for kind, value in BAD.items():
        page.get_by_role("button", name="New file").click()
        dialog = page.get_by_role("dialog", name="New file")
        dialog.get_by_label("Path").fill(value)
        dialog.get_by_role("button", name="Save").click()
        if answer(page, dialog, page.get_by_role("status").filter(has_text="Saved")):
            assert kind not in REFUSED, f"{kind} path was accepted"
            continue
        expect(dialog.get_by_role("button", name="Save")).to_be_enabled()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

    page.get_by_role("tab", name="Preview", exact=True).click()
    for value in BAD.values():
        page.get_by_role("button", name="Add port").click()
        dialog = page.get_by_role("dialog", name="Add port")
        dialog.get_by_label("Name", exact=True).fill(value)
        dialog.get_by_label("Port").fill("8080")
        dialog.get_by_role("button", name="Add port").click()
        assert not answer(page, dialog, page.get_by_role("status").filter(has_text="Added"))
        expect(dialog.get_by_role("button", name="Add port")).to_be_enabled()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
    assert "ports" not in api.get(f"/v1/sandboxes/{sandbox['id']}").json()  # none declared
