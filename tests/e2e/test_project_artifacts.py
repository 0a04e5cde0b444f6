"""The project's Artifacts page in Chromium against the real server: it lists the
artifacts of a deleted sandbox (their retained copies download), its sandbox, task and kind
filters narrow the list and live in the address (a reload keeps them), and a long name is
cut with its whole text on hover and in the names of its controls."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot
from tests.support.builders import make_sandbox, suffix, template_id

pytestmark = pytest.mark.e2e

LONG_NAME = "nightly-" + "x" * 180 + ".log"


def kept(api: httpx.Client, sandbox: dict, name: str, kind: str, data: bytes) -> dict:
    """An uploaded artifact of the sandbox, its bytes retained."""
    body = {"kind": kind, "name": name, "uri": f"client://{name}"}
    created = api.post(f"/v1/sandboxes/{sandbox['id']}/artifacts", json=body)
    assert created.status_code == 201, created.text
    artifact = created.json()
    stored = api.put(f"/v1/artifacts/{artifact['id']}/content", content=data)
    assert stored.status_code == 200, stored.text
    return artifact


def finished_task(api: httpx.Client, sandbox: dict) -> str:
    """A task whose declared path became an artifact; its id."""
    body = {"command": ["sh", "-lc", "echo 42 > answer.txt"], "artifactPaths": ["answer.txt"]}
    task = api.post(f"/v1/sandboxes/{sandbox['id']}/tasks", json=body)
    assert task.status_code in (200, 201, 202), task.text
    task_id = task.json()["id"]
    deadline = time.monotonic() + LIFECYCLE_TIMEOUT / 1000
    while api.get(f"/v1/tasks/{task_id}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "task did not succeed"
        time.sleep(0.1)
    while not api.get(f"/v1/tasks/{task_id}/artifacts").json()["items"]:
        assert time.monotonic() < deadline, "the task's artifact was not collected"
        time.sleep(0.1)
    return task_id


def deleted(api: httpx.Client, sandbox: dict) -> bool:
    found = api.get(f"/v1/sandboxes/{sandbox['id']}")
    return found.status_code == 404 or found.json().get("status") == "deleted"


def choose(page: Page, label: str, option: str | re.Pattern) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option).click()


def test_deleted_sandboxes_artifacts_filters_and_reload(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    project_id = sandbox["projectId"]
    kept(api, sandbox, "summary.txt", "report", b"all green\n")
    task_id = finished_task(api, sandbox)
    gone = make_sandbox(api, project_id, template_id(api, "shell"), f"gone-{suffix()}")
    kept(api, gone, LONG_NAME, "log", b"from a sandbox that is gone\n")
    assert api.delete(f"/v1/sandboxes/{gone['id']}").status_code in (202, 204)
    deadline = time.monotonic() + LIFECYCLE_TIMEOUT / 1000
    while not deleted(api, gone):
        assert time.monotonic() < deadline, "the sandbox was not deleted"
        time.sleep(0.1)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/artifacts?project={project_id}")
    expect(page.get_by_role("heading", name="Artifacts", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Artifacts")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(4)  # the header and three artifacts
    old = rows.filter(has_text="nightly-")
    expect(old).to_contain_text(f"{gone['name']} (deleted)")
    expect(old).to_contain_text("28 B")
    # The long name is cut on screen, whole on hover and in its download's name.
    expect(old.get_by_title(LONG_NAME, exact=True)).to_be_visible()
    download_link = old.get_by_role("link", name=f"Download {LONG_NAME}")
    expect(download_link).to_be_visible()
    width = old.get_by_title(LONG_NAME, exact=True).evaluate(
        "(cell) => cell.scrollWidth > cell.clientWidth"
    )
    assert width, "the long name should be cut with an ellipsis"
    screenshot(page, pytestconfig, "project-artifacts.png")

    # Its retained copy still downloads, with the console's sign-in.
    with page.expect_download() as download:
        download_link.click()
    assert download.value.path().read_bytes() == b"from a sandbox that is gone\n"

    # Filters: kind, then sandbox; both in the address, kept by a reload.
    choose(page, "Kind", "Log")
    expect(rows).to_have_count(2)
    expect(table).not_to_contain_text("summary.txt")
    choose(page, "Sandbox", f"{gone['name']} (deleted)")
    expect(rows).to_have_count(2)
    asked = parse_qs(urlsplit(page.url).query)
    assert asked == {"project": [project_id], "sandbox": [gone["id"]], "kind": ["log"]}
    page.reload()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("nightly-")
    expect(page.get_by_label("Kind", exact=True)).to_contain_text("Log")
    expect(page.get_by_label("Sandbox", exact=True)).to_contain_text(gone["name"])

    # The task filter: only what the task's declared paths kept.
    page.get_by_role("button", name="Clear filters").click()
    expect(rows).to_have_count(4)
    choose(page, "Task", re.compile(f"Task {task_id[:8]}"))
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("answer.txt")
    assert parse_qs(urlsplit(page.url).query)["task"] == [task_id]
