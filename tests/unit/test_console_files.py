"""The Files tab's guards that run before anything is written: where an uploaded file may
go, how much of it is read, and the browser-side measure of typed text (run here in Node,
the same JavaScript the page evaluates)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import pytest
import reflex as rx

from backend.errors import InvalidInput, TooLarge
from state.sandbox_files import (
    SOCKET_ROOM,
    TYPED_BYTES,
    archive_url,
    measured_text,
    read_upload,
    refused_words,
    too_big_to_type,
    upload_target,
)


@pytest.mark.parametrize(
    ("folder", "name", "target"),
    [
        ("", "notes.txt", "notes.txt"),
        ("src", "app.py", "src/app.py"),
        ("src", "./pkg/mod.py", "src/pkg/mod.py"),  # a dropped folder's file
        ("a/b", "c..d.txt", "a/b/c..d.txt"),
    ],
)
def test_uploads_land_in_the_folder_shown(folder: str, name: str, target: str) -> None:
    assert upload_target(folder, name) == target


@pytest.mark.parametrize(
    "name",
    ["../escape.txt", "../../etc/cron.d/x", "a/../../b", "/etc/passwd", "..\\evil", "", "x\0y"],
)
def test_climbing_or_absolute_upload_names_are_refused_in_words(name: str) -> None:
    """Attack: a crafted upload (a dropped File whose name climbs, or a multipart part
    posted to /_upload by hand) names a place outside the folder or the workspace.
    Stopped by: the name is refused before a byte is read (and the runtime refuses `..`
    and absolute paths again)."""
    with pytest.raises(InvalidInput) as refused:
        upload_target("src", name)
    assert "cannot be uploaded" in refused.value.message


async def test_an_oversize_upload_is_refused_after_reading_just_past_the_limit() -> None:
    """Attack: an upload larger than the limit (the browser's check skipped). Stopped by:
    reading stops one chunk past the limit and nothing is written."""
    with tempfile.SpooledTemporaryFile() as spooled:
        spooled.write(b"x" * (3 * 1024 * 1024))
        spooled.seek(0)
        with pytest.raises(TooLarge) as refused:
            await read_upload(rx.UploadFile(spooled), 1024 * 1024, "big.bin")
        assert refused.value.message == "big.bin is larger than the 1.0 MiB an upload can write"
        spooled.seek(0)
        whole = await read_upload(rx.UploadFile(spooled), 4 * 1024 * 1024, "big.bin")
        assert whole == b"x" * (3 * 1024 * 1024)


def _measure(source: str) -> dict:
    """What the page's measure returns for the text the JS expression `source` makes."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = f"console.log(JSON.stringify({measured_text(source)}));"
    done = subprocess.run([node, "-"], input=script, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_typed_text_is_sent_only_when_it_fits_one_socket_message() -> None:
    assert _measure(json.dumps("héllo\n")) == {"bytes": 7, "content": "héllo\n"}
    assert _measure("'x'.repeat(3000000)") == {"bytes": 3_000_000}  # only the size
    assert _measure(f"'x'.repeat({TYPED_BYTES})")["bytes"] == TYPED_BYTES
    # Within the limit, yet too big once escaped for JSON: only the size travels too.
    quotes = SOCKET_ROOM // 2 + 1
    assert quotes <= TYPED_BYTES and "content" not in _measure(f"'\"'.repeat({quotes})")
    assert _measure("null") == {"missing": True}  # the editor not loaded yet: nothing saved


def test_refusals_and_links_say_what_they_mean() -> None:
    assert too_big_to_type("big.txt", 3_000_000) == (
        "big.txt is 2.9 MiB: text typed here is saved up to 512 KiB. Nothing was written; "
        "upload a larger file instead."
    )
    assert archive_url("abc", "my dir/x&y") == "/v1/sandboxes/abc/files/archive?path=my+dir%2Fx%26y"


def test_the_browsers_refusals_in_words() -> None:
    big = [{"name": "huge.bin", "size": 10_000_000, "codes": ["file-too-large"]}]
    assert refused_words(big, 9 * 1024 * 1024, "an upload can write") == (
        "huge.bin is larger than the 9.0 MiB an upload can write. Nothing was written."
    )
    many = [{"name": "a.txt", "size": 1, "codes": ["too-many-files"]}] * 2
    assert refused_words(many, 1, "x") == "Upload one file at a time."
    assert refused_words([], 1, "x") == "The file cannot be uploaded."
    assert refused_words(["junk"], 1, "x") == "The file cannot be uploaded."  # type: ignore[list-item]
