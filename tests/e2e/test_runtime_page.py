"""The runtime page in Chromium against the real server: a running sandbox's resources are
listed with the sandbox as owner; a workspace left without a sandbox record is an orphan
with its reason in words, and the cleanup dialog deletes it only once its name is typed,
leaving an audit event."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from backend.runtime import inventory
from backend.runtime.local import LABELS_NAME, sandbox_root
from state.format import byte_size
from tests.e2e.harness import LIFECYCLE_TIMEOUT, Server, screenshot
from tests.support.builders import make_project, make_sandbox, suffix, template_id, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(api: httpx.Client):
    """A running Shell sandbox in a project of its own; returns (project, sandbox)."""
    tag = suffix()
    project = make_project(api, f"Runtime {tag}", f"mbox-rt-{tag}")
    created = make_sandbox(api, project["id"], template_id(api, "shell"), f"rt-{tag}")
    sandbox = wait_for_status(api, created, "running", LIFECYCLE_TIMEOUT / 1000)
    yield project, sandbox
    api.delete(f"/v1/sandboxes/{sandbox['id']}")


def leave_orphan_workspace(server: Server, project_id: str) -> str:
    """A workspace directory as the local runtime makes one, for a sandbox mbox never had
    (deterministic, unlike racing the reconciler after a delete)."""
    orphan_id = uuid.uuid4()
    home = sandbox_root(server.data_dir) / str(orphan_id)
    (home / "workspace").mkdir(parents=True)
    ids = inventory.labels(project_id=uuid.UUID(project_id), sandbox_id=orphan_id)
    (home / LABELS_NAME).write_text(json.dumps(ids))
    return str(orphan_id)


def test_inventory_orphans_and_cleanup(
    page: Page,
    api: httpx.Client,
    server: Server,
    running: tuple[dict, dict],
    pytestconfig: pytest.Config,
) -> None:
    project, sandbox = running
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/runtime")
    expect(page.get_by_role("heading", name="Runtime", level=1)).to_be_visible()
    expect(page.get_by_text("Local (bubblewrap on this host)")).to_be_visible()
    expect(page.get_by_text("Managed resources")).to_be_visible()

    # The sandbox's workspace and process tree, owned by it (linked to its page).
    table = page.get_by_role("table", name="Runtime resources")
    mine = table.get_by_role("row").filter(has_text=sandbox["id"])
    workspace = mine.filter(has_text="Workspace")
    expect(workspace).to_have_count(1)
    expect(mine.filter(has_text="ProcessTree")).to_contain_text("Running")
    owner = workspace.get_by_role("link", name=f"Sandbox {sandbox['id'][:8]}")
    expect(owner).to_have_attribute("href", f"/sandboxes/{sandbox['id']}")
    orphans = page.get_by_role("table", name="Orphan runtime resources")
    expect(orphans.get_by_role("row").filter(has_text=sandbox["id"])).to_have_count(0)

    # The kind filter narrows the list through the service.
    page.get_by_label("Kind", exact=True).click()
    page.get_by_role("option", name="ProcessTree").click()
    expect(mine).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text="Workspace")).to_have_count(0)
    page.get_by_role("button", name="Clear filters").click()
    expect(workspace).to_have_count(1)

    # A workspace whose sandbox mbox has no record of is an orphan, with its reason.
    orphan_id = leave_orphan_workspace(server, project["id"])
    page.get_by_role("button", name="Refresh").click()
    row = orphans.get_by_role("row").filter(has_text=orphan_id)
    expect(row).to_contain_text("No sandbox record")
    expect(row).to_contain_text(f"belongs to sandbox {orphan_id}, which mbox has no record of")
    screenshot(page, pytestconfig, "runtime-orphans.png", full_page=True)

    # Cleanup names the resource and the reason, and waits for its name to be typed.
    row.get_by_role("button", name=f"Clean up Workspace {orphan_id}").click()
    dialog = page.get_by_role("dialog", name="Clean up Workspace")
    expect(dialog).to_contain_text(f"local/{orphan_id}")
    expect(dialog).to_contain_text("missing-sandbox-record")
    delete = dialog.get_by_role("button", name="Delete resource")
    expect(delete).to_be_disabled()
    dialog.get_by_label("Type the resource's name to confirm").fill(orphan_id)
    expect(delete).to_be_enabled()
    page.wait_for_timeout(300)  # the dialog's opening animation
    screenshot(page, pytestconfig, "runtime-cleanup-dialog.png")
    delete.click()
    expect(dialog).to_be_hidden()
    expect(
        page.get_by_role("status").filter(has_text=f"Deleted Workspace {orphan_id}")
    ).to_be_visible()
    expect(row).to_have_count(0)
    expect(table.get_by_role("row").filter(has_text=orphan_id)).to_have_count(0)
    assert not (sandbox_root(server.data_dir) / orphan_id).exists()

    events = api.get("/v1/audit-events", params={"action": "runtime.orphan.deleted"})
    [event] = [e for e in events.json()["items"] if e["resourceName"] == orphan_id]
    assert event["metadata"]["reason"] == "missing-sandbox-record"
    assert event["projectId"] == project["id"]


def confirm_cleanup(page: Page, orphan_id: str) -> Locator:
    """Open the orphan's cleanup dialog and type its name; returns the dialog."""
    rows = page.get_by_role("table", name="Orphan runtime resources").get_by_role("row")
    row = rows.filter(has_text=orphan_id)
    row.get_by_role("button", name=f"Clean up Workspace {orphan_id}").click()
    dialog = page.get_by_role("dialog", name="Clean up Workspace")
    dialog.get_by_label("Type the resource's name to confirm").fill(orphan_id)
    return dialog


def test_refused_cleanups_are_said_in_words(
    page: Page, server: Server, running: tuple[dict, dict]
) -> None:
    """The audit changed its mind before the confirmation: the service's 409 is shown in
    the dialog, which then names the current reason; an orphan gone meanwhile is said so."""
    project, _ = running
    changed = leave_orphan_workspace(server, project["id"])
    gone = leave_orphan_workspace(server, project["id"])
    page.goto("/runtime")

    dialog = confirm_cleanup(page, changed)
    expect(dialog).to_contain_text("missing-sandbox-record")
    (sandbox_root(server.data_dir) / changed / LABELS_NAME).write_text("{}")  # no owner now
    dialog.get_by_role("button", name="Delete resource").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        f"Could not clean up Workspace {changed}: the audit now reports it for another reason "
        "(no owner label, not no sandbox record)"
    )
    expect(dialog).to_contain_text("unlabeled-owner")
    dialog.get_by_role("button", name="Delete resource").click()  # for the reason shown now
    expect(dialog).to_be_hidden()
    expect(
        page.get_by_role("status").filter(has_text=f"Deleted Workspace {changed}")
    ).to_be_visible()

    dialog = confirm_cleanup(page, gone)
    shutil.rmtree(sandbox_root(server.data_dir) / gone)
    dialog.get_by_role("button", name="Delete resource").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        f"Could not clean up Workspace {gone}: runtime resource is not currently "
        "reported as an orphan"
    )
    rows = page.get_by_role("table", name="Orphan runtime resources").get_by_role("row")
    expect(rows.filter(has_text=gone)).to_have_count(0)  # the lists were read again


def test_image_cache_section(page: Page, api: httpx.Client) -> None:
    """The Images section lists the local runtime's image cache against its limit; with
    nothing cached, it says so in a sentence."""
    cache = api.get("/v1/images").json()
    assert cache["kept"] is True and cache["adapter"] == "local"
    page.goto("/runtime")
    images = page.get_by_role("region", name="Images")
    expect(images.get_by_role("heading", name="Images", exact=True)).to_be_visible()
    expect(images).to_contain_text(f"{byte_size(cache['maxBytes'])} limit")
    if cache["items"]:  # another test pulled one: listed, digest shortened
        table = images.get_by_role("table", name="Cached images")
        first = cache["items"][0]
        expect(table.get_by_title(first["digest"])).to_contain_text(first["digest"][:19])
    else:
        expect(images).to_contain_text("0.0 MiB in 0 images")
        expect(images.get_by_text("No cached images")).to_be_visible()
        expect(images).to_contain_text("pulls it here on its first launch")
