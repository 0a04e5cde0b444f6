"""The sandbox page's Files tab in Chromium against the real server and local runtime: a
3 MB save is refused in words (nothing written), a text file is edited in place in the
code editor, files are uploaded with the picker and by drag and drop (a climbing name is
refused), and a folder downloads as a tar.gz of its files."""

from __future__ import annotations

import io
import re
import tarfile

import httpx
import pytest
from playwright.sync_api import Page, expect

from state.sandbox_files import FilesTab
from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot

pytestmark = pytest.mark.e2e

# Drops a File named `name` holding `text` on the element, as a browser drag does.
DROP = """(zone, [name, text]) => {
    const data = new DataTransfer();
    data.items.add(new File([text], name, {type: "text/plain"}));
    for (const type of ["dragenter", "dragover", "drop"]) {
        const init = {dataTransfer: data, bubbles: true, cancelable: true};
        zone.dispatchEvent(new DragEvent(type, init));
    }
}"""
# Posts a file to /_upload under any name, as a crafted client can (a browser's File
# cannot hold a '/'), with this page's token, cookie and origin; the status and the
# state changes the handler answered with.
CRAFTED_UPLOAD = """async ([handler, name, text]) => {
    const form = new FormData();
    form.append("files", new Blob([text]), name);
    const headers = {
        "Reflex-Client-Token": window.sessionStorage.getItem("token"),
        "Reflex-Event-Handler": handler,
    };
    const response = await fetch("/_upload", {method: "POST", body: form, headers});
    return [response.status, await response.text()];
}"""
UPLOAD_HANDLER = f"{FilesTab.get_full_name()}.upload_files"


def read(api: httpx.Client, sandbox: dict, path: str) -> httpx.Response:
    return api.get(f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": path})


def open_files(page: Page, sandbox: dict) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("group", name="Sandbox status")).to_contain_text(
        "Running", timeout=LIFECYCLE_TIMEOUT
    )
    page.get_by_role("tab", name="Files").click()
    expect(page.get_by_role("tab", name="Files")).to_have_attribute("aria-selected", "true")


def status(page: Page):
    return page.get_by_role("status").filter(has_text=re.compile("Saved|Uploaded"))


def test_save_edit_upload_and_download_a_folder(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_files(page, sandbox)

    # A 3 MB file typed into New file: refused in words in the dialog, nothing written.
    page.get_by_role("button", name="New file").click()
    dialog = page.get_by_role("dialog", name="New file")
    expect(dialog).to_contain_text("At most 512 KiB of text")
    dialog.get_by_label("Path").fill("big.txt")
    dialog.get_by_label("Content").evaluate(
        "(area) => { area.value = 'x'.repeat(3 * 1000 * 1000); }"
    )
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "big.txt is 2.9 MiB: text typed here is saved up to 512 KiB. Nothing was written"
    )
    assert read(api, sandbox, "big.txt").status_code == 404

    # A small one saves and closes the dialog.
    dialog.get_by_label("Path").fill("src/app.py")
    dialog.get_by_label("Content").fill("def greet():\n    return 'hi'\n")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(status(page)).to_contain_text("Saved src/app.py")

    # Edit it in place: the code editor highlights Python; Save writes the change.
    page.get_by_role("button", name="Open folder src").click()
    page.get_by_role("button", name="View app.py").click()
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_role("textbox", name="Text of app.py")
    expect(editor).to_contain_text("def greet():")
    expect(editor.locator("span").first).to_be_visible()  # tokens wrapped: highlighted
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("print(greet())\n")
    page.get_by_role("button", name="Save").click()
    expect(status(page)).to_contain_text("Saved src/app.py")
    assert (
        read(api, sandbox, "src/app.py").text == "def greet():\n    return 'hi'\nprint(greet())\n"
    )
    screenshot(page, pytestconfig, "sandbox-files-edited.png")
    with page.expect_download() as download:  # from the API, with the sign-in cookie
        page.get_by_role("link", name="Download app.py").click()
    assert download.value.path().read_bytes().endswith(b"print(greet())\n")
    page.get_by_role("button", name="Close").click()

    # Upload with the picker, then by dropping a file on the listing: into this folder.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    chooser.value.set_files(
        files=[{"name": "picked.txt", "mimeType": "text/plain", "buffer": b"picked\n"}]
    )
    expect(status(page)).to_contain_text("Uploaded src/picked.txt (7 B)")
    assert read(api, sandbox, "src/picked.txt").content == b"picked\n"
    # Larger than an upload may be: refused in words before it is sent.
    zone = page.get_by_label("Drop a file to upload it into this folder")
    expect(zone).to_contain_text("Drop a file here to upload it into this folder (at most 8.9 MiB")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    huge = {"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 10_000_000}
    chooser.value.set_files(files=[huge])
    expect(page.get_by_role("alert")).to_contain_text(
        "huge.bin is larger than the 8.9 MiB an upload can write. Nothing was written."
    )
    zone.evaluate(DROP, ["dropped.txt", "dropped\n"])
    expect(status(page)).to_contain_text("Uploaded src/dropped.txt (8 B)")
    assert read(api, sandbox, "src/dropped.txt").content == b"dropped\n"
    expect(page.get_by_role("button", name="View dropped.txt")).to_be_visible()
    # Attack: files posted under names that climb out of the folder and the workspace, or
    # are absolute. They land in the folder shown under their last part, never elsewhere.
    for name in ("../../escape.txt", "/tmp/escape.txt"):
        code, answer = page.evaluate(CRAFTED_UPLOAD, [UPLOAD_HANDLER, name, "owned\n"])
        assert code == 200 and "Uploaded src/escape.txt" in answer, (code, answer)
    assert read(api, sandbox, "escape.txt").status_code == 404
    assert read(api, sandbox, "src/escape.txt").content == b"owned\n"
    api.delete(f"/v1/sandboxes/{sandbox['id']}/files", params={"path": "src/escape.txt"})

    # Download the folder: a tar.gz of its files, from the API with the sign-in cookie.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download folder").click()
    assert download.value.suggested_filename == "src.tar.gz"
    data = download.value.path().read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert files == {
        "src/app.py": b"def greet():\n    return 'hi'\nprint(greet())\n",
        "src/picked.txt": b"picked\n",
        "src/dropped.txt": b"dropped\n",
    }
