"""The sandbox page's Artifacts tab in Chromium against the real server and local runtime:
capture workspace files, preview their text, download them, capture again, refuse a path
outside the workspace without leaving anything behind; delete with confirmation; upload an
image and see it previewed; filter by the task whose declared paths were collected."""

from __future__ import annotations

import re
import struct
import time
import zlib

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot

pytestmark = pytest.mark.e2e

REPORT = "total: 3 passed\nslowest: test_upload (0.4 s)\n"
# 110 KiB of log lines: the preview shows the first 64 KiB.
BIG = "".join(f"{i:05d} worker-3 processed batch in 12 ms, queue depth 4\n" for i in range(2100))
BIG_SIZE = f"{len(BIG) / 1024:.0f} KiB"


def png(width: int, height: int) -> bytes:
    """A small solid PNG, made here (no fixture files)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x4f\x46\xe5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def write(api: httpx.Client, sandbox: dict, path: str, data: bytes) -> None:
    response = api.put(
        f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": path}, content=data
    )
    assert response.status_code == 204, response.text


def listed(api: httpx.Client, sandbox: dict) -> list[dict]:
    response = api.get(f"/v1/sandboxes/{sandbox['id']}/artifacts")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def open_artifacts(page: Page, sandbox: dict) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text("Running")
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_role("tab", name="Artifacts")).to_have_attribute("aria-selected", "true")


def capture(page: Page, path: str, *, kind: str = "", refused: bool = False) -> None:
    """Capture `path` through the form; it closes once the capture succeeded."""
    page.get_by_role("button", name="Capture from workspace").click()
    dialog = page.get_by_role("dialog", name="Capture from workspace")
    dialog.get_by_label("Workspace path").fill(path)
    if kind:
        dialog.get_by_label("Kind").click()
        page.get_by_role("option", name=kind, exact=True).click()
    dialog.get_by_role("button", name="Capture", exact=True).click()
    if not refused:
        expect(dialog).to_have_count(0)


def test_capture_preview_download_and_capture_again(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    write(api, sandbox, "out/report.txt", REPORT.encode())
    write(api, sandbox, "out/big.log", BIG.encode())
    open_artifacts(page, sandbox)
    expect(page.get_by_text("No artifacts yet")).to_be_visible()
    usage = page.get_by_role("group", name="Retained in this project")
    expect(usage).to_contain_text("0 B in 0 artifacts")

    # Capture a file: the reference and its retained bytes, listed with their size.
    capture(page, "out/report.txt")
    status = page.get_by_role("status")
    expect(status).to_have_text(f"Captured report.txt ({len(REPORT)} B) from the workspace.")
    table = page.get_by_role("table", name="Artifacts")
    report = table.get_by_role("row", name=re.compile("report.txt"))
    expect(report).to_contain_text(f"{len(REPORT)} B · database")
    expect(report).to_contain_text("workspace://out/report.txt")
    expect(report).to_contain_text("file")
    expect(usage).to_contain_text(f"{len(REPORT)} B in 1 artifact")
    (found,) = listed(api, sandbox)
    sha = found["retainedContent"]["sha256"]
    expect(report.get_by_title(f"sha256 {sha}")).to_have_text(f"sha256 {sha[:12]}…")
    expect(report).to_contain_text(f"sha256 {sha[:12]}")

    # Preview its text.
    report.get_by_role("button", name="Preview report.txt").click()
    preview = page.get_by_role("region", name="Preview of report.txt")
    expect(preview.get_by_role("log", name="Artifact text")).to_have_text(REPORT)

    # Download it: the browser fetches the API's content URL with the sign-in cookie.
    with page.expect_download() as download:
        report.get_by_role("link", name="Download report.txt").click()
    assert download.value.suggested_filename == "report.txt"
    assert download.value.path().read_bytes() == REPORT.encode()

    # A larger log, as a Log: the preview shows its first 64 KiB and says so.
    capture(page, "out/big.log", kind="Log")
    expect(status).to_have_text(f"Captured big.log ({BIG_SIZE}) from the workspace.")
    big = table.get_by_role("row", name=re.compile("big.log"))
    expect(big).to_contain_text("log")
    big.get_by_role("button", name="Preview big.log").click()
    preview = page.get_by_role("region", name="Preview of big.log")
    expect(preview).to_contain_text(f"Showing the first 64 KiB of {BIG_SIZE}")
    shown = preview.get_by_role("log", name="Artifact text").text_content() or ""
    assert len(shown) == 64 * 1024 and BIG.startswith(shown)
    # Newest first.
    expect(table.get_by_role("row").nth(1)).to_contain_text("big.log")
    expect(table.get_by_role("row").nth(2)).to_contain_text("report.txt")

    # The workspace changes; Capture again retains the new bytes.
    write(api, sandbox, "out/report.txt", (REPORT + "rerun: ok\n").encode())
    report.get_by_role("button", name="Capture report.txt again").click()
    expect(status).to_have_text(f"Captured report.txt ({len(REPORT) + 10} B) again.")
    expect(report).to_contain_text(f"{len(REPORT) + 10} B · database")

    # A path outside the workspace is refused in words, and leaves no reference behind.
    capture(page, "../x", refused=True)
    dialog = page.get_by_role("dialog", name="Capture from workspace")
    expect(dialog.get_by_role("alert")).to_have_text(
        "Could not capture ../x: workspace paths cannot contain '..'."
    )
    dialog.get_by_role("button", name="Cancel").click()
    expect(table.get_by_role("row")).to_have_count(3)  # the header and two artifacts
    assert [a["name"] for a in listed(api, sandbox)] == ["big.log", "report.txt"]

    # So is a file that is not there.
    capture(page, "out/missing.txt", refused=True)
    expect(dialog.get_by_role("alert")).to_contain_text("Could not capture out/missing.txt")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(listed(api, sandbox)) == 2

    report.get_by_role("button", name="Preview report.txt").click()
    preview = page.get_by_role("region", name="Preview of report.txt")
    expect(preview.get_by_role("log", name="Artifact text")).to_contain_text("rerun: ok")
    page.get_by_role("tablist").evaluate("tabs => tabs.scrollIntoView({block: 'start'})")
    screenshot(page, pytestconfig, "sandbox-artifacts.png")


def test_delete_after_confirmation(page: Page, api: httpx.Client, sandbox: dict) -> None:
    write(api, sandbox, "out/report.txt", REPORT.encode())
    write(api, sandbox, "out/big.log", BIG.encode())
    open_artifacts(page, sandbox)
    capture(page, "out/report.txt")
    capture(page, "out/big.log", kind="Log")
    status = page.get_by_role("status")
    expect(status).to_have_text(f"Captured big.log ({BIG_SIZE}) from the workspace.")
    table = page.get_by_role("table", name="Artifacts")
    big = table.get_by_role("row", name=re.compile("big.log"))
    big.get_by_role("button", name="Preview big.log").click()
    expect(page.get_by_role("region", name="Preview of big.log")).to_be_visible()

    # Cancel keeps it.
    big.get_by_role("button", name="Delete big.log").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(f"big.log and its retained copy ({BIG_SIZE}) will be deleted")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(table.get_by_role("row")).to_have_count(3)

    big.get_by_role("button", name="Delete big.log").click()
    confirm.get_by_role("button", name="Delete artifact").click()
    expect(status).to_have_text("Deleted big.log.")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and report.txt
    expect(page.get_by_role("region", name="Preview of big.log")).to_have_count(0)
    usage = page.get_by_role("group", name="Retained in this project")
    expect(usage).to_contain_text(f"{len(REPORT)} B in 1 artifact")
    assert [a["name"] for a in listed(api, sandbox)] == ["report.txt"]


def test_upload_an_image_and_preview_it(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    image = png(48, 32)
    open_artifacts(page, sandbox)
    expect(page.get_by_text("No artifacts yet")).to_be_visible()

    # Upload: the button opens the browser's file chooser; the file is sent at once.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload file").click()
    chooser.value.set_files(files=[{"name": "chart.png", "mimeType": "image/png", "buffer": image}])
    expect(page.get_by_role("status")).to_have_text(f"Uploaded chart.png ({len(image)} B).")
    table = page.get_by_role("table", name="Artifacts")
    chart = table.get_by_role("row", name=re.compile("chart.png"))
    expect(chart).to_contain_text("client://chart.png")
    expect(chart).to_contain_text(f"{len(image)} B · database")
    # Only workspace references can be captured again.
    expect(chart.get_by_role("button", name="Capture chart.png again")).to_have_count(0)

    # Its preview is the image itself, loaded from the API.
    chart.get_by_role("button", name="Preview chart.png").click()
    preview = page.get_by_role("region", name="Preview of chart.png")
    img = preview.get_by_role("img", name="chart.png")
    expect(img).to_have_js_property("complete", True)
    expect(img).to_have_js_property("naturalWidth", 48)
    (uploaded,) = listed(api, sandbox)
    assert uploaded["retainedContent"]["contentType"] == "image/png"
    content = api.get(f"/v1/artifacts/{uploaded['id']}/content")
    assert content.content == image
    screenshot(page, pytestconfig, "sandbox-artifacts-upload.png")


def test_filter_by_task(page: Page, api: httpx.Client, sandbox: dict) -> None:
    write(api, sandbox, "notes.txt", b"by hand\n")
    open_artifacts(page, sandbox)
    capture(page, "notes.txt")
    expect(page.get_by_role("status")).to_have_text("Captured notes.txt (8 B) from the workspace.")
    table = page.get_by_role("table", name="Artifacts")
    expect(page.get_by_label("Show artifacts of")).to_be_disabled()  # no task has artifacts

    # A task that declares artifact paths: its artifacts can be shown on their own.
    task = api.post(
        f"/v1/sandboxes/{sandbox['id']}/tasks",
        json={
            "command": ["sh", "-lc", "mkdir -p out && echo done > out/task-result.txt"],
            "artifactPaths": ["out/task-*.txt"],
        },
    )
    assert task.status_code in (200, 201, 202), task.text
    task_id = task.json()["id"]
    deadline = time.monotonic() + LIFECYCLE_TIMEOUT / 1000
    while api.get(f"/v1/tasks/{task_id}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "task did not succeed"
        time.sleep(0.1)
    page.get_by_role("button", name="Refresh").click()
    result = table.get_by_role("row", name=re.compile("task-result.txt"))
    expect(result).to_contain_text(task_id[:8])
    expect(table.get_by_role("row")).to_have_count(3)

    page.get_by_label("Show artifacts of").click()
    page.get_by_role("option", name=re.compile(f"Task {task_id[:8]}")).click()
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("row").nth(1)).to_contain_text("task-result.txt")
    expect(table).not_to_contain_text("notes.txt")
    page.get_by_label("Show artifacts of").click()
    page.get_by_role("option", name="All artifacts").click()
    expect(table.get_by_role("row")).to_have_count(3)
    # The declared path was captured when the task ended.
    expect(result).to_contain_text("5 B · database")
