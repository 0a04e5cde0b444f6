"""Capturing artifacts from a real sandbox's workspace: files, directories as tar.gz,
escapes refused, live reads, and the artifacts a task declares collected when it ends."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid

import httpx
import pytest
import sqlalchemy as sa

from backend.artifacts.models import ArtifactCreate
from backend.auth.models import SYSTEM
from backend.errors import NotFound
from tests.runtime.conftest import run

pytestmark = pytest.mark.both_runtimes


@pytest.fixture
async def sandbox(world):
    return await world.running_sandbox()


async def _shell(world, sandbox: dict, script: str) -> str:
    code, out, err = await run(world.runtime, uuid.UUID(sandbox["id"]), script)
    assert code == 0, err
    return out


async def _artifact(world, sandbox: dict, uri: str, **fields) -> dict:
    payload = {"kind": "file", "name": uri.rsplit("/", 1)[-1] or "root", "uri": uri, **fields}
    return await world.post(f"/v1/sandboxes/{sandbox['id']}/artifacts", payload)


async def _capture(world, artifact: dict):
    return await world.client.post(f"/v1/artifacts/{artifact['id']}/capture")


async def test_capture_a_file_then_read_it_after_the_sandbox_is_gone(world, sandbox):
    await _shell(world, sandbox, "mkdir -p out && printf 'total: 3\\n' > out/report.txt")
    artifact = await _artifact(world, sandbox, "workspace:///workspace/out/report.txt")
    response = await _capture(world, artifact)
    assert response.status_code == 200, response.text
    retained = response.json()["retainedContent"]
    assert retained["sizeBytes"] == 9 and retained["contentType"] == "text/plain"
    assert retained["sha256"] == hashlib.sha256(b"total: 3\n").hexdigest()
    assert retained["sourceUri"] == "workspace:///workspace/out/report.txt"
    event = (await world.get("/v1/audit-events", action="artifact.content.captured"))["items"][0]
    assert event["metadata"]["sizeBytes"] == 9
    assert (await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")).status_code in (
        200,
        202,
        204,
    )
    await world.reconciler.reconcile_once()  # the runtime and its workspace are gone
    download = await world.client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert download.status_code == 200 and download.content == b"total: 3\n"


async def test_relative_workspace_uris_and_type_sniffing(world, sandbox):
    await _shell(world, sandbox, "printf 'plain words' > notes; printf '\\000\\001' > blob")
    notes = await _artifact(world, sandbox, "workspace://notes")
    blob = await _artifact(world, sandbox, "workspace://blob")
    assert (await _capture(world, notes)).json()["retainedContent"]["contentType"] == (
        "text/plain; charset=utf-8"
    )
    assert (await _capture(world, blob)).json()["retainedContent"]["contentType"] == (
        "application/octet-stream"
    )


async def test_capture_a_directory_as_tar_gz(world, sandbox):
    await _shell(
        world,
        sandbox,
        "mkdir -p site/css && echo '<h1>hi</h1>' > site/index.html && echo 'b{}' > site/css/a.css"
        " && ln -s /etc/passwd site/passwd",
    )
    artifact = await _artifact(world, sandbox, "workspace:///workspace/site", kind="directory")
    response = await _capture(world, artifact)
    assert response.status_code == 200, response.text
    assert response.json()["retainedContent"]["contentType"] == "application/gzip"
    download = await world.client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert 'filename="site.tar.gz"' in download.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(download.content), mode="r:gz") as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert archive.extractfile(members["site/index.html"]).read() == b"<h1>hi</h1>\n"
        assert members["site/passwd"].issym() and members["site/passwd"].linkname == "/etc/passwd"
        assert "site/css/a.css" in members


@pytest.mark.parametrize(
    ("uri", "status"),
    [
        ("workspace://../../etc/passwd", 400),
        ("workspace:///etc/passwd", 400),
        ("workspace:///workspace/../etc/passwd", 400),
        ("workspace://link-to-etc/passwd", 400),
        ("workspace://passwd-link", 400),
        ("workspace://missing.txt", 404),
        ("https://example.com/x", 400),
    ],
)
async def test_escapes_are_refused(world, sandbox, uri, status):
    await _shell(world, sandbox, "ln -s /etc link-to-etc && ln -s /etc/passwd passwd-link")
    artifact = await _artifact(world, sandbox, uri)
    response = await _capture(world, artifact)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert "retainedContent" not in (await world.get(f"/v1/artifacts/{artifact['id']}"))
    with world.app.state.services.database.engine.connect() as conn:  # no blob was even begun
        assert conn.execute(sa.text("SELECT count(*) FROM artifact_blobs")).scalar() == 0


async def test_capture_over_the_limit_is_refused(world, sandbox):
    limit = world.app.state.services.artifacts.max_bytes
    await _shell(world, sandbox, f"head -c {limit + 1} /dev/zero > big.bin")
    artifact = await _artifact(world, sandbox, "workspace://big.bin")
    response = await _capture(world, artifact)
    assert response.status_code == 413
    assert response.json()["error"] == "artifact content exceeds retention limit"


async def test_live_reads_stream_the_workspace(world, sandbox):
    await _shell(world, sandbox, "printf 'live' > now.txt")
    artifact = await _artifact(world, sandbox, "workspace:///workspace/now.txt")
    response = await world.client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert response.status_code == 200 and response.content == b"live"
    assert response.headers["x-mbox-artifact-retained"] == "false"
    assert response.headers["x-mbox-artifact-path"] == "now.txt"
    assert response.headers["content-length"] == "4"
    limit = world.app.state.services.artifacts.max_bytes
    await _shell(world, sandbox, f"head -c {limit + 10} /dev/zero > huge.bin")
    huge = await _artifact(world, sandbox, "workspace://huge.bin")
    cut = await world.client.get(f"/v1/artifacts/{huge['id']}/content")
    assert cut.headers["x-mbox-content-truncated"] == "true"
    assert len(cut.content) == limit
    await _shell(world, sandbox, "mkdir -p tree && printf 'x' > tree/one")
    tree = await _artifact(world, sandbox, "workspace://tree", kind="directory")
    archive = await world.client.get(f"/v1/artifacts/{tree['id']}/content")
    assert archive.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as opened:
        assert opened.extractfile("tree/one").read() == b"x"


async def test_create_and_capture_leaves_nothing_when_the_capture_fails(world, sandbox):
    content = world.app.state.services.artifacts
    data = ArtifactCreate.model_validate({"kind": "file", "name": "x", "uri": "workspace://nope"})
    sandbox_id = uuid.UUID(sandbox["id"])
    with pytest.raises(NotFound):
        await content.create_and_capture(principal=SYSTEM, sandbox_id=sandbox_id, data=data)
    assert (await world.get(f"/v1/sandboxes/{sandbox['id']}/artifacts"))["items"] == []
    await _shell(world, sandbox, "printf 'kept' > kept.txt")
    data = ArtifactCreate.model_validate(
        {"kind": "file", "name": "kept", "uri": "workspace://kept.txt"}
    )
    made = await content.create_and_capture(principal=SYSTEM, sandbox_id=sandbox_id, data=data)
    assert made.retained_content is not None and made.retained_content.size_bytes == 4


async def test_a_task_collects_its_declared_artifacts(world, sandbox):
    script = (
        "mkdir -p out/logs && echo ok > out/a.xml && echo b > out/b.xml"
        " && echo l > out/logs/x.log; exit 3"
    )
    task = await world.start_task(
        sandbox,
        ["sh", "-c", script],
        artifactPaths=["out/*.xml", "out/logs", "out/logs/*", "nothing/*"],
    )
    assert task["artifactPaths"] == ["out/*.xml", "out/logs", "out/logs/*", "nothing/*"]
    finished = await world.finished(task)
    assert finished["status"] == "failed"  # a failed run still keeps what it produced
    items = (await world.get(f"/v1/tasks/{task['id']}/artifacts"))["items"]
    by_name = {item["name"]: item for item in items}
    assert sorted(by_name) == ["out/a.xml", "out/b.xml", "out/logs"]
    assert by_name["out/a.xml"]["retainedContent"]["sizeBytes"] == 3
    assert by_name["out/logs"]["kind"] == "directory"
    assert by_name["out/logs"]["retainedContent"]["contentType"] == "application/gzip"
    assert all(item["taskId"] == task["id"] for item in items)
    assert by_name["out/a.xml"]["uri"] == "workspace:///workspace/out/a.xml"


async def test_a_declared_artifact_that_cannot_be_kept_says_why(world, sandbox):
    limit = world.app.state.services.artifacts.max_bytes
    script = f"mkdir -p out && head -c {limit + 1} /dev/zero > out/huge.bin"
    task = await world.start_task(sandbox, ["sh", "-c", script], artifactPaths=["out/*.bin"])
    assert (await world.finished(task))["status"] == "succeeded"
    [item] = (await world.get(f"/v1/tasks/{task['id']}/artifacts"))["items"]
    assert item["name"] == "out/huge.bin" and "retainedContent" not in item
    assert item["metadata"]["captureError"] == "artifact content exceeds retention limit"


async def test_declared_artifact_paths_are_validated(world, sandbox):
    for paths in (["/etc/*"], ["../x"], ["ok"] * 17):
        response = await world.client.post(
            f"/v1/sandboxes/{sandbox['id']}/tasks",
            json={"command": ["true"], "artifactPaths": paths},
        )
        assert response.status_code == 400, paths


async def test_a_corrupted_download_is_cut_short_by_a_real_server(world, served, sandbox):
    """Over HTTP the mismatch shows as an incomplete body, never as a whole wrong file."""
    artifact = await _artifact(world, sandbox, "client://big.bin")
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB: verified while streaming
    uploaded = await world.client.put(f"/v1/artifacts/{artifact['id']}/content", content=data)
    key = uploaded.json()["retainedContent"]["storageKey"]
    with world.app.state.services.database.engine.begin() as conn:  # flip bytes of the middle chunk
        conn.execute(
            sa.text(
                "UPDATE artifact_blob_chunks SET data = :data WHERE storage_key = :key AND seq = 1"
            ),
            {"data": b"\xff" * (1024 * 1024), "key": key},
        )
    received = bytearray()
    async with httpx.AsyncClient(base_url=served) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("GET", f"/v1/artifacts/{artifact['id']}/content") as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    received += chunk
    assert len(received) < len(data)
