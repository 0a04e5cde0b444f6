"""A workspace directory downloaded as tar.gz through the API
(GET /v1/sandboxes/{id}/files/archive): its tree, its name, links never followed out, the
size cap, and the refusals in words."""

from __future__ import annotations

import io
import os
import tarfile
import uuid

import httpx
import pytest

from tests.runtime.conftest import World


@pytest.fixture
async def sandbox(world: World) -> dict:
    return await world.running_sandbox()


def _archive_url(sandbox: dict) -> str:
    return f"/v1/sandboxes/{sandbox['id']}/files/archive"


async def _put(world: World, sandbox: dict, path: str, data: bytes) -> None:
    response = await world.client.put(
        f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": path}, content=data
    )
    assert response.status_code == 204, response.text


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {member.name: member for member in archive.getmembers()}


def _contents(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


async def test_a_directory_downloads_as_a_tar_gz_of_its_tree(world: World, sandbox: dict):
    await _put(world, sandbox, "project/README.md", b"# hi\n")
    await _put(world, sandbox, "project/src/app.py", b"print(1)\n")
    await _put(world, sandbox, "elsewhere.txt", b"not in it")
    response = await world.client.get(_archive_url(sandbox), params={"path": "project"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert 'filename="project.tar.gz"' in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert _contents(response.content) == {
        "project/README.md": b"# hi\n",
        "project/src/app.py": b"print(1)\n",
    }
    whole = await world.client.get(_archive_url(sandbox))
    assert 'filename="workspace.tar.gz"' in whole.headers["content-disposition"]
    assert set(_contents(whole.content)) == {
        "workspace/project/README.md",
        "workspace/project/src/app.py",
        "workspace/elsewhere.txt",
    }


async def test_links_out_of_the_workspace_are_stored_as_links_never_followed(
    world: World, sandbox: dict, tmp_path
):
    """Attack: the sandbox plants links to a host file and to / in the folder a user then
    downloads (the server reads as root). Stopped by: the archive stores a link as a link
    (its target's bytes are never read), and a link named as the folder itself is refused."""
    secret = tmp_path / "server-secret.txt"
    secret.write_text("do not leak")
    await _put(world, sandbox, "out/kept.txt", b"kept")
    workspace = world.runtime.workspace(uuid.UUID(sandbox["id"]))
    os.symlink(secret, workspace / "out" / "leak")
    os.symlink("/", workspace / "out" / "root")
    os.symlink("/etc", workspace / "etc-link")
    response = await world.client.get(_archive_url(sandbox), params={"path": "out"})
    assert response.status_code == 200, response.text
    members = _members(response.content)
    assert members["out/leak"].issym() and members["out/root"].issym()
    assert _contents(response.content) == {"out/kept.txt": b"kept"}
    assert b"do not leak" not in response.content
    for path in ("etc-link", "etc-link/ssl", "out/root/etc"):
        refused = await world.client.get(_archive_url(sandbox), params={"path": path})
        assert refused.status_code == 400, (path, refused.text)


@pytest.mark.parametrize("path", ["../", "/etc", "a/../../b", "x\u0000y"])
async def test_escaping_paths_are_refused(world: World, sandbox: dict, path: str):
    response = await world.client.get(_archive_url(sandbox), params={"path": path})
    assert response.status_code == 400, response.text


async def test_files_and_missing_paths_are_refused_in_words(world: World, sandbox: dict):
    await _put(world, sandbox, "notes.txt", b"x")
    as_file = await world.client.get(_archive_url(sandbox), params={"path": "notes.txt"})
    assert as_file.status_code == 400
    assert "is not a directory" in as_file.json()["error"]
    missing = await world.client.get(_archive_url(sandbox), params={"path": "nope"})
    assert missing.status_code == 404
    unknown = await world.client.get(f"/v1/sandboxes/{uuid.uuid4()}/files/archive")
    assert unknown.status_code == 404


async def test_an_archive_past_the_cap_is_cut_off_not_finished(
    world: World, sandbox: dict, served: str
):
    """Attack: a sandbox fills its folder so that its download never ends (or fills the
    downloader's disk). Stopped by: the archive's cap; past it the server cuts the
    connection (over real HTTP), so the body never ends like a whole archive."""
    await _put(world, sandbox, "big/random.bin", os.urandom(3 * 1024 * 1024))
    world.app.state.services.files.archive_max_bytes = 1024 * 1024
    received = 0
    async with httpx.AsyncClient(base_url=served) as client:
        with pytest.raises(httpx.HTTPError):
            async with client.stream(
                "GET", _archive_url(sandbox), params={"path": "big"}
            ) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
    assert received <= 1024 * 1024
