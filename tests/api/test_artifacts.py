"""Artifacts through the API: references, streamed upload and download on every backend,
ranges, verification, concurrency, garbage collection, retention, accounting, quotas."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from backend.artifacts.models import ArtifactBlobRow, ArtifactRow
from backend.db import utcnow
from backend.engines.artifact_collector import ArtifactCollector
from backend.errors import StorageFailed
from backend.policy.models import ProjectQuotaPolicyRow
from tests.api.conftest import TOKEN, Api, build_api

MiB = 1024 * 1024


@pytest.fixture(params=["postgres", "filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides for one content backend ("postgres" = in the database, which
    is SQLite or Postgres as the `database` fixture chooses)."""
    if request.param == "s3":
        return {"artifact_content_backend": "s3", **request.getfixturevalue("s3_server").overrides}
    return {"artifact_content_backend": request.param}


def _app(settings, database, **overrides):
    return build_api(settings, database, **overrides)


@pytest.fixture
def stack(settings, database, backend):
    app = _app(settings, database, **backend)
    return app, TestClient(app)


def _sandbox(api: Api) -> dict[str, Any]:
    project = api.project()
    return api.sandbox(project, api.template())


def _artifact(api: Api, sandbox: dict, **fields: Any) -> dict[str, Any]:
    payload = {"kind": "report", "name": "report.txt", "uri": "client://report.txt", **fields}
    return api.create(f"/v1/sandboxes/{sandbox['id']}/artifacts", payload)


def _collect(app) -> Any:
    collector = ArtifactCollector(
        app.state.services.database, app.state.services.artifacts.stores, upload_grace=3600
    )
    return asyncio.run(collector.collect_once())


def _blobs(app) -> list[ArtifactBlobRow]:
    with app.state.services.database.session() as db:
        return list(db.exec(sa.select(ArtifactBlobRow)).scalars())


def _usage(client: TestClient, project_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/projects/{project_id}/artifact-usage")
    assert response.status_code == 200, response.text
    return response.json()


# -- references ---------------------------------------------------------------------------


def test_references_are_created_listed_and_read(api: Api):
    sandbox = _sandbox(api)
    created = _artifact(api, sandbox, contentType="text/plain", sizeBytes=12, metadata={"a": 1})
    assert created["kind"] == "report" and created["sizeBytes"] == 12
    assert "retainedContent" not in created and "taskId" not in created
    listed = api.client.get(f"/v1/sandboxes/{sandbox['id']}/artifacts").json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert api.client.get(f"/v1/artifacts/{created['id']}").json() == created
    events = api.audit(action="artifact.created")
    expected = {"sandboxId": sandbox["id"], "kind": "report", "taskId": ""}
    assert events[0]["metadata"].items() >= expected.items()
    assert events[0]["resourceName"] == created["name"]  # readable in the audit feed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "nope"}, "kind is invalid"),
        ({"name": " "}, "name is required"),
        ({"name": "x" * 257}, "name is too long"),
        ({"uri": ""}, "uri is required"),
        ({"uri": "x" * 4097}, "uri is too long"),
        ({"contentType": "x" * 256}, "contentType is too long"),
        ({"sizeBytes": -1}, "sizeBytes cannot be negative"),
        ({"taskId": "nope"}, "taskId must be a task UUID"),
    ],
)
def test_bad_references_are_refused_and_change_nothing(api: Api, row_counts, fields, message):
    sandbox = _sandbox(api)
    before = row_counts()
    payload = {"kind": "file", "name": "a", "uri": "workspace:///workspace/a", **fields}
    response = api.client.post(f"/v1/sandboxes/{sandbox['id']}/artifacts", json=payload)
    assert response.status_code == 400 and response.json()["error"] == message
    assert row_counts() == before


def test_unknown_ids_are_clear_errors(api: Api):
    assert api.client.get("/v1/artifacts/nope").json() == {"error": "invalid artifact id"}
    missing = api.client.get(f"/v1/artifacts/{uuid.uuid4()}")
    assert missing.status_code == 404
    sandbox = _sandbox(api)
    response = api.client.post(
        f"/v1/sandboxes/{sandbox['id']}/artifacts",
        json={"kind": "file", "name": "a", "uri": "u", "taskId": str(uuid.uuid4())},
    )
    assert response.status_code == 404


def test_content_routes_need_the_token(settings, database):
    client = TestClient(build_api(settings, database, api_token=TOKEN))
    artifact_id = uuid.uuid4()
    assert client.get(f"/v1/artifacts/{artifact_id}/content").status_code == 401
    assert client.put(f"/v1/artifacts/{artifact_id}/content", content=b"x").status_code == 401


# -- content on every backend ----------------------------------------------------------------


def test_upload_and_download_round_trip(stack, backend):
    _, client = stack
    api = Api(client)
    sandbox = _sandbox(api)
    artifact = _artifact(api, sandbox, name="out/ré port.txt")
    data = os.urandom(3 * MiB + 17)  # several chunks, not a multiple of any
    response = client.put(
        f"/v1/artifacts/{artifact['id']}/content",
        content=_chunks(data, 64 * 1024),
        headers={"Content-Type": "text/plain", "X-Mbox-Artifact-Source-URI": "ci://build/7"},
    )
    assert response.status_code == 200, response.text
    retained = response.json()["retainedContent"]
    digest = hashlib.sha256(data).hexdigest()
    assert retained["sha256"] == digest and retained["sizeBytes"] == len(data)
    assert retained["storageProvider"] == backend["artifact_content_backend"]
    assert retained["sourceUri"] == "ci://build/7" and retained["contentType"] == "text/plain"
    download = client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert download.status_code == 200 and download.content == data
    headers = download.headers
    assert headers["content-length"] == str(len(data))
    assert headers["x-mbox-artifact-sha256"] == digest
    assert headers["x-mbox-artifact-retained"] == "true"
    assert headers["x-mbox-artifact-id"] == artifact["id"]
    assert headers["etag"] == f'"{digest}"'
    assert headers["x-mbox-artifact-captured-at"].endswith("GMT")
    assert headers["content-disposition"].startswith('attachment; filename="r? port.txt"')
    assert "filename*=UTF-8''r%C3%A9%20port.txt" in headers["content-disposition"]
    assert headers["x-content-type-options"] == "nosniff"
    assert _usage(client, sandbox["projectId"])["retainedBytes"] == len(data)


def _chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _upload(client: TestClient, artifact: dict, data: bytes, **headers: str):
    return client.put(f"/v1/artifacts/{artifact['id']}/content", content=data, headers=headers)


def test_ranges_and_conditional_requests(stack):
    _, client = stack
    api = Api(client)
    artifact = _artifact(api, _sandbox(api))
    data = bytes(range(256)) * 8192  # 2 MiB
    assert _upload(client, artifact, data).status_code == 200
    url = f"/v1/artifacts/{artifact['id']}/content"
    cases = {
        "bytes=0-9": data[:10],
        "bytes=1048570-1048590": data[1048570:1048591],  # across a chunk boundary
        "bytes=2097000-": data[2097000:],
        "bytes=-5": data[-5:],
        "bytes=10-999999999": data[10:],
    }
    for header, expected in cases.items():
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == expected, header
        start = (
            len(data) - len(expected)
            if header.startswith("bytes=-")
            else int(header[6:].split("-")[0])
        )
        assert (
            response.headers["content-range"]
            == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
        )
    refused = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{len(data)}"
    assert "error" in refused.json()
    etag = client.get(url).headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_upload_over_the_limit_is_refused_and_leaves_nothing(settings, database, tmp_path):
    overrides = {"artifact_content_backend": "filesystem", "artifact_content_max_bytes": 1000}
    app = _app(settings, database, **overrides)
    client = TestClient(app)
    api = Api(client)
    artifact = _artifact(api, _sandbox(api))
    declared = _upload(client, artifact, b"x" * 1001)
    assert declared.status_code == 413
    assert declared.json()["error"] == "artifact content exceeds retention limit"
    streamed = client.put(  # no Content-Length: refused while streaming
        f"/v1/artifacts/{artifact['id']}/content", content=_chunks(b"y" * 5000, 100)
    )
    assert streamed.status_code == 413
    assert "retainedContent" not in client.get(f"/v1/artifacts/{artifact['id']}").json()
    assert _blobs(app) == []
    assert not any(p.is_file() for p in Path(settings.artifact_content_dir).rglob("*"))


def test_directory_artifacts_cannot_be_uploaded(api: Api):
    artifact = _artifact(api, _sandbox(api), kind="directory")
    response = _upload(api.client, artifact, b"x")
    assert response.status_code == 400
    assert response.json()["error"] == "directory artifacts cannot store retained content"


def test_live_reads_need_a_running_sandbox_and_a_workspace_uri(api: Api):
    sandbox = _sandbox(api)
    client_ref = _artifact(api, sandbox)
    response = api.client.get(f"/v1/artifacts/{client_ref['id']}/content")
    assert response.status_code == 400
    assert "workspace://" in response.json()["error"]
    workspace_ref = _artifact(api, sandbox, uri="workspace:///workspace/a.txt")
    response = api.client.get(f"/v1/artifacts/{workspace_ref['id']}/content")
    assert response.status_code == 409
    assert (
        response.json()["error"]
        == "sandbox must be running before reading workspace artifact content"
    )
    capture = api.client.post(f"/v1/artifacts/{workspace_ref['id']}/capture")
    assert capture.status_code == 409


# -- integrity --------------------------------------------------------------------------------


@pytest.fixture
def on_disk(settings, database):
    app = _app(settings, database, artifact_content_backend="filesystem")
    return app, TestClient(app)


def _blob_file(settings, retained: dict) -> Path:
    return Path(settings.artifact_content_dir) / retained["storageKey"]


def test_corrupted_or_missing_blobs_are_clear_errors(on_disk, settings):
    _, client = on_disk
    api = Api(client)
    artifact = _artifact(api, _sandbox(api))
    retained = _upload(client, artifact, b"hello, world").json()["retainedContent"]
    path = _blob_file(settings, retained)
    path.write_bytes(b"hellO, world")  # same size, different bytes
    response = client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert response.status_code == 500
    assert response.json()["error"] == "retained artifact content is corrupted (sha256 mismatch)"
    path.write_bytes(b"hello")
    response = client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert "size changed" in response.json()["error"]
    path.unlink()
    response = client.get(f"/v1/artifacts/{artifact['id']}/content")
    assert response.json() == {"error": "retained artifact content is missing from storage"}


def test_a_large_corrupted_blob_never_downloads_complete(on_disk, settings):
    _, client = on_disk
    api = Api(client)
    artifact = _artifact(api, _sandbox(api))
    data = os.urandom(3 * MiB)
    retained = _upload(client, artifact, data).json()["retainedContent"]
    path = _blob_file(settings, retained)
    with path.open("r+b") as file:
        file.seek(2 * MiB)
        file.write(b"\x00" * 16)
    received = bytearray()
    with (
        # The body stops short: TestClient re-raises what a real server logs and aborts on.
        pytest.raises((StorageFailed, RuntimeError)),
        client.stream("GET", f"/v1/artifacts/{artifact['id']}/content") as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk
    assert len(received) < len(data)


def test_content_stays_readable_after_switching_backends(settings, database):
    first = TestClient(_app(settings, database, artifact_content_backend="filesystem"))
    api = Api(first)
    artifact = _artifact(api, _sandbox(api))
    assert _upload(first, artifact, b"kept on disk").status_code == 200
    second = TestClient(_app(settings, database, artifact_content_backend="postgres"))
    response = second.get(f"/v1/artifacts/{artifact['id']}/content")
    assert response.status_code == 200 and response.content == b"kept on disk"
    assert response.headers["x-mbox-artifact-retained"] == "true"


# -- concurrency, garbage, accounting ------------------------------------------------------------


def test_concurrent_uploads_leave_one_consistent_result(on_disk, settings):
    app, client = on_disk
    api = Api(client)
    sandbox = _sandbox(api)
    artifact = _artifact(api, sandbox)
    bodies = [os.urandom(MiB + n) for n in range(2)]
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def slow(data: bytes):
        barrier.wait()  # both uploads are in flight at once
        for chunk in _chunks(data, 128 * 1024):
            time.sleep(0.005)
            yield chunk

    def upload(index: int) -> None:
        results[index] = client.put(
            f"/v1/artifacts/{artifact['id']}/content", content=slow(bodies[index])
        )

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200]
    final = client.get(f"/v1/artifacts/{artifact['id']}/content").content
    assert final in bodies
    retained = client.get(f"/v1/artifacts/{artifact['id']}").json()["retainedContent"]
    assert retained["sha256"] == hashlib.sha256(final).hexdigest()
    assert _usage(client, sandbox["projectId"]) | {"retentionDays": None} == {
        "projectId": sandbox["projectId"],
        "retainedBytes": len(final),
        "retainedCount": 1,
        "retentionDays": None,
    }
    assert _collect(app).removed == 1  # the loser's blob
    files = [p for p in Path(settings.artifact_content_dir).rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in files] == [final]


def test_replaced_and_deleted_content_is_collected(stack):
    app, client = stack
    api = Api(client)
    sandbox = _sandbox(api)
    first, second = _artifact(api, sandbox), _artifact(api, sandbox)
    _upload(client, first, b"a" * 100)
    _upload(client, first, b"b" * 40)  # replaces: the 100 bytes become garbage
    _upload(client, second, b"c" * 7)
    assert _usage(client, sandbox["projectId"])["retainedBytes"] == 47
    assert client.delete(f"/v1/artifacts/{second['id']}").status_code == 204
    assert client.get(f"/v1/artifacts/{second['id']}").status_code == 404
    usage = _usage(client, sandbox["projectId"])
    assert (usage["retainedBytes"], usage["retainedCount"]) == (40, 1)
    assert len(_blobs(app)) == 3
    collected = _collect(app)
    assert (collected.removed, collected.failed) == (2, 0)
    assert [blob.size_bytes for blob in _blobs(app)] == [40]
    assert client.get(f"/v1/artifacts/{first['id']}/content").content == b"b" * 40
    assert _collect(app).removed == 0
    assert api.audit(action="artifact.deleted")[0]["resourceId"] == second["id"]


def test_abandoned_uploads_are_collected_after_the_grace_period(on_disk, settings):
    app, client = on_disk
    api = Api(client)
    artifact = _artifact(api, _sandbox(api))
    store = app.state.services.artifacts.stores.writer
    blob_key = f"{artifact['id']}/{uuid.uuid4()}"
    with app.state.services.database.session() as db:  # a server died mid-upload
        db.add(
            ArtifactBlobRow(
                project_id=uuid.UUID(artifact["projectId"]),
                artifact_id=uuid.UUID(artifact["id"]),
                storage_provider="filesystem",
                storage_key=blob_key,
                created_at=utcnow() - timedelta(hours=2),
            )
        )
        db.commit()
    asyncio.run(store.write(blob_key, _async_chunks([b"partial"])))
    assert _collect(app).removed == 1
    assert _blobs(app) == []
    assert not (Path(settings.artifact_content_dir) / blob_key).exists()


async def _async_chunks(chunks: list[bytes]):
    for chunk in chunks:
        yield chunk


def test_retention_expires_old_artifacts(stack):
    app, client = stack
    api = Api(client)
    project = api.project(artifactRetentionDays=7)
    assert project["artifactRetentionDays"] == 7
    sandbox = api.sandbox(project, api.template())
    old, fresh = _artifact(api, sandbox), _artifact(api, sandbox)
    _upload(client, old, b"o" * 10)
    _upload(client, fresh, b"f" * 5)
    with app.state.services.database.engine.begin() as conn:
        conn.execute(
            sa.update(ArtifactRow)
            .where(ArtifactRow.id == uuid.UUID(old["id"]))
            .values(updated_at=utcnow() - timedelta(days=8))
        )
    collected = _collect(app)
    assert (collected.expired, collected.removed) == (1, 1)
    listed = client.get(f"/v1/sandboxes/{sandbox['id']}/artifacts").json()["items"]
    assert [item["id"] for item in listed] == [fresh["id"]]
    assert _usage(client, project["id"])["retainedBytes"] == 5
    event = api.audit(action="artifact.expired")[0]
    assert event["resourceId"] == old["id"] and event["principal"] == "system"


def test_retention_days_are_validated(api: Api):
    project = api.project()
    for days in (0, 3651):
        response = api.client.patch(
            f"/v1/projects/{project['id']}", json={"artifactRetentionDays": days}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "artifactRetentionDays must be between 1 and 3650"
    response = api.client.patch(f"/v1/projects/{project['id']}", json={"artifactRetentionDays": 30})
    assert response.json()["artifactRetentionDays"] == 30
    cleared = api.client.patch(
        f"/v1/projects/{project['id']}", json={"artifactRetentionDays": None}
    )
    assert "artifactRetentionDays" not in cleared.json()


def test_retained_bytes_quota_is_enforced_exactly(on_disk):
    app, client = on_disk
    api = Api(client)
    sandbox = _sandbox(api)
    with app.state.services.database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(sandbox["projectId"]),
                enforcement="enforced",
                max_retained_artifact_bytes=100,
            )
        )
        db.commit()
    artifact = _artifact(api, sandbox)
    assert _upload(client, artifact, b"a" * 100).status_code == 200
    assert _upload(client, artifact, b"b" * 90).status_code == 200  # replacing frees its bytes
    refused = _upload(client, _artifact(api, sandbox), b"c" * 11)
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("policy denied: retained artifact bytes quota")
    assert _usage(client, sandbox["projectId"])["retainedBytes"] == 90
    denied = api.audit(action="policy.denied")[0]
    assert denied["metadata"]["operation"] == "artifact.content.upload"
    assert len(_blobs(app)) == 2  # the refused bytes were removed at once; the replaced wait
