"""Link and FIFO tricks on every route that touches a workspace, planted from inside.

The server reads and writes workspaces as root; everything in a workspace is the
sandbox's to change between two requests. Each route must refuse (or skip) what a
planted symlink, symlinked directory or FIFO points at, answer at once, and never read,
write or delete a host file."""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.runtime.conftest import World, run

SECRET = "host secret, never to be served"
# Planted by the sandbox itself: {secret} is a host path the server could reach as root.
TRICKS = {
    "symlink-to-a-host-file": "ln -s {secret} trick",
    "symlinked-directory": "mkdir -p real && ln -s {secret_dir} trick",
    "fifo": "mkfifo trick",
    "symlink-in-a-parent": "ln -s {secret_dir} parent && mkdir -p x",
}


def _target(trick: str) -> str:
    """The workspace path each route is asked about."""
    if trick == "symlinked-directory":
        return "trick/secret.txt"
    if trick == "symlink-in-a-parent":
        return "parent/secret.txt"
    return "trick"


async def _read(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    response = await world.client.get(
        f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": path}
    )
    return response.status_code, response.text


async def _list(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    response = await world.client.get(f"/v1/sandboxes/{sandbox['id']}/files", params={"path": path})
    return response.status_code, response.text


async def _write(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    response = await world.client.put(
        f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": path}, content=b"owned"
    )
    return response.status_code, response.text


async def _delete(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    response = await world.client.delete(
        f"/v1/sandboxes/{sandbox['id']}/files", params={"path": path}
    )
    return response.status_code, response.text


async def _capture(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    artifact = await world.post(
        f"/v1/sandboxes/{sandbox['id']}/artifacts",
        {"kind": "report", "name": "trick", "uri": f"workspace://{path}"},
    )
    response = await world.client.post(f"/v1/artifacts/{artifact['id']}/capture")
    content = await world.client.get(f"/v1/artifacts/{artifact['id']}/content")
    return response.status_code, response.text + content.text


async def _task_artifacts(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    task = await world.start_task(sandbox, ["true"], artifactPaths=[path, "**"])
    await world.finished(task)
    artifacts = await world.get(f"/v1/tasks/{task['id']}/artifacts")
    texts = []
    for artifact in artifacts["items"]:
        content = await world.client.get(f"/v1/artifacts/{artifact['id']}/content")
        texts.append(content.text)
    return 400, "\n".join(texts)  # what matters is what was kept


async def _archive(world: World, sandbox: dict, path: str) -> tuple[int, str]:
    """The folder holding the trick, downloaded as tar.gz: every member's bytes, or the
    refusal."""
    folder = path.rpartition("/")[0]
    response = await world.client.get(
        f"/v1/sandboxes/{sandbox['id']}/files/archive", params={"path": folder}
    )
    if response.status_code != 200:
        return response.status_code, response.text
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        members = [archive.extractfile(m) for m in archive.getmembers() if m.isfile()]
        return 200, "\n".join(m.read().decode(errors="replace") for m in members if m)


ROUTES = {
    "read": _read,
    "list": _list,
    "write": _write,
    "delete": _delete,
    "capture": _capture,
    "task-artifacts": _task_artifacts,
    "archive": _archive,
}


@pytest.fixture
async def secret(tmp_path: Path) -> Path:
    directory = tmp_path / "host-secrets"
    directory.mkdir()
    path = directory / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("trick", TRICKS)
async def test_planted_links_and_fifos(world: World, secret: Path, trick: str, route: str) -> None:
    """Attack: the trick (a link to a host file or directory, a FIFO) planted by the
    sandbox, then the route asked about it. Stopped by: every workspace path is opened
    component by component with O_NOFOLLOW (links refused, never followed), FIFOs opened
    non-blocking and refused, writes go to fresh O_EXCL temp files."""
    sandbox = await world.running_sandbox()
    script = TRICKS[trick].format(secret=secret, secret_dir=secret.parent)
    code, _, err = await run(world.runtime, uuid.UUID(sandbox["id"]), script)
    assert code == 0, err
    status, text = await asyncio.wait_for(ROUTES[route](world, sandbox, _target(trick)), 10)
    assert SECRET not in text
    assert secret.read_text() == SECRET  # neither overwritten nor deleted
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.txt"]
    if route in ("read", "list", "capture", "task-artifacts"):
        assert status >= 400, (status, text)
    # A write may replace a planted link by a file (the rename swaps the link itself) and
    # a delete removes the link: either way, only the workspace changed (checked above).
