"""GET /v1/sandboxes/{id}/metrics, the latest samples and the project's live sums, over
samples stored the way the metrics sampler stores them (SQLite and Postgres)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from backend.auth.models import Principal
from backend.db import Database, utcnow
from backend.errors import InvalidInput, NotFound
from backend.metrics import service as metrics
from backend.metrics.models import SandboxMetricSampleRow
from backend.principals import service as tokens
from backend.principals.models import ApiTokenCreate
from backend.runtime.base import ResourceSample
from backend.sandboxes.models import SandboxRow
from backend.settings import Settings, SettingsError, load_settings
from tests.api.conftest import TOKEN, Api, build_api

MIB = 1024**2
ADMIN = Principal(subject="metrics-admin", role="admin")


def _store(database: Database, sandbox: dict, *samples: ResourceSample, retention=3600) -> int:
    sandbox_id = uuid.UUID(sandbox["id"])
    stored = 0
    for sample in samples:  # one round each, as the sampler stores them
        stored += database_call(
            database,
            metrics.store_round,
            samples={sandbox_id: sample},
            projects={sandbox_id: uuid.UUID(sandbox["projectId"])},
            retention_seconds=retention,
        )
    return stored


def database_call(database: Database, fn, /, **kwargs: Any) -> Any:
    with database.session() as db:
        return fn(db, **kwargs)


def _box(api: Api, project: dict | None = None) -> dict:
    return api.sandbox(project or api.project(), api.template())


def _sample(seconds_ago: float, **fields: Any) -> ResourceSample:
    return ResourceSample(at=utcnow() - timedelta(seconds=seconds_ago), source="cgroups", **fields)


def _running(database: Database, sandbox: dict) -> None:
    with database.session() as db:
        row = db.get(SandboxRow, uuid.UUID(sandbox["id"]))
        row.status = "running"
        db.add(row)
        db.commit()


def _series(database: Database, sandbox: dict) -> None:
    """Three samples 10 s apart: 0.5 then 0.25 CPU, 1 MB/s then 0 received."""
    _store(
        database,
        sandbox,
        _sample(25, cpu_usage_usec=1_000_000, memory_bytes=100 * MIB, network_rx_bytes=0),
        _sample(
            15,
            cpu_usage_usec=6_000_000,
            cpu_limit_millicores=1000,
            memory_bytes=150 * MIB,
            memory_limit_bytes=512 * MIB,
            disk_bytes=3 * MIB,
            disk_limit_bytes=1024 * MIB,
            processes=4,
            process_limit=256,
            network_rx_bytes=10_000_000,
            network_tx_bytes=5_000,
        ),
        _sample(
            5,
            cpu_usage_usec=8_500_000,
            memory_bytes=120 * MIB,
            processes=3,
            network_rx_bytes=10_000_000,
            network_tx_bytes=15_000,
        ),
    )


def test_the_window_holds_samples_with_rates(api: Api, client: TestClient, database: Database):
    project = api.project()
    sandbox = _box(api, project)
    _series(database, sandbox)
    response = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sandboxId"] == sandbox["id"]
    assert (body["windowSeconds"], body["intervalSeconds"], body["source"]) == (
        300,
        10.0,
        "cgroups",
    )
    first, second, third = body["samples"]
    assert "cpuMillicores" not in first  # no sample before it: no rate
    assert first["memoryBytes"] == 100 * MIB
    assert second["cpuMillicores"] == pytest.approx(500, rel=0.01)
    assert second["networkRxBytesPerSecond"] == pytest.approx(1_000_000, rel=0.01)
    assert second["cpuLimitMillicores"] == 1000 and second["processLimit"] == 256
    assert second["diskBytes"] == 3 * MIB and second["diskLimitBytes"] == 1024 * MIB
    assert third["cpuMillicores"] == pytest.approx(250, rel=0.01)
    assert third["networkRxBytesPerSecond"] == 0
    assert third["networkTxBytesPerSecond"] == pytest.approx(1000, rel=0.01)
    assert third["networkTxBytes"] == 15_000
    assert body["latest"] == third
    # A shorter window keeps the newer samples, and still rates the first of them.
    short = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics", params={"window": "10"}).json()
    assert [s["at"] for s in short["samples"]] == [third["at"]]
    assert short["samples"][0]["cpuMillicores"] == pytest.approx(250, rel=0.01)


def test_a_sandbox_never_sampled_has_an_empty_window(api: Api, client: TestClient):
    sandbox = _box(api)
    body = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics", params={"window": "60"}).json()
    assert body["samples"] == [] and body["source"] == "none" and "latest" not in body


def test_a_counter_that_goes_back_is_no_rate(api: Api, client: TestClient, database: Database):
    sandbox = _box(api)
    _store(
        database,
        sandbox,
        _sample(20, cpu_usage_usec=9_000_000, network_tx_bytes=50_000),
        _sample(10, cpu_usage_usec=1_000, network_tx_bytes=10),  # restarted meanwhile
    )
    later = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics").json()["samples"][1]
    assert "cpuMillicores" not in later and "networkTxBytesPerSecond" not in later


@pytest.mark.parametrize(
    "window", ["0", "-5", "3601", "abc", "1.5", "99999999999999999999", "\uff11\uff10"]
)
def test_bad_windows_are_400(api: Api, client: TestClient, window: str):
    sandbox = _box(api)
    response = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics", params={"window": window})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "window must be a whole number of seconds from 1 to 3600",
        "detail": {"field": "window"},
    }


def test_the_window_reaches_the_retention(api: Api, settings: Settings, database: Database):
    client = TestClient(build_api(settings, database, metrics_retention_seconds=7200))
    sandbox = _box(Api(client))
    response = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics", params={"window": "7200"})
    assert response.status_code == 200 and response.json()["windowSeconds"] == 7200


def test_the_default_window_fits_a_short_retention(
    api: Api, settings: Settings, database: Database
):
    client = TestClient(build_api(settings, database, metrics_retention_seconds=60))
    sandbox = _box(Api(client))
    response = client.get(f"/v1/sandboxes/{sandbox['id']}/metrics")
    assert response.status_code == 200 and response.json()["windowSeconds"] == 60


def test_the_retention_holds_two_samples_at_least(tmp_path):
    with pytest.raises(SettingsError, match="at least twice MBOX_METRICS_INTERVAL_SECONDS"):
        load_settings(data_dir=tmp_path, metrics_interval_seconds=60, metrics_retention_seconds=100)


def test_unknown_and_invalid_sandbox_ids(client: TestClient):
    assert client.get(f"/v1/sandboxes/{uuid.uuid4()}/metrics").status_code == 404
    assert client.get("/v1/sandboxes/nope/metrics").status_code == 400


def test_another_projects_token_gets_404(secured_client: TestClient, database: Database):
    admin = {"Authorization": f"Bearer {TOKEN}"}
    secured_client.headers.update(admin)
    api = Api(secured_client)
    own, other = api.project(), api.project()
    sandbox = _box(api, own)
    _series(database, sandbox)
    with database.session() as db:
        data = ApiTokenCreate.model_validate(
            {"name": "other", "principal": "other", "role": "admin", "projectIds": [other["id"]]}
        )
        _, secret = tokens.create_token(db, principal=ADMIN, data=data)
    response = secured_client.get(
        f"/v1/sandboxes/{sandbox['id']}/metrics", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "resource not found"}
    # The services say the same: no window, no latest sample, for the other project.
    outsider = Principal(
        subject="other", role="admin", projects=frozenset({uuid.UUID(other["id"])})
    )
    with database.session() as db:
        with pytest.raises(NotFound):
            metrics.sandbox_metrics(
                db, principal=outsider, sandbox_id=uuid.UUID(sandbox["id"]), window_seconds=60
            )
        ids = [uuid.UUID(sandbox["id"])]
        assert metrics.latest_samples(db, principal=outsider, sandbox_ids=ids) == {}
        assert set(metrics.latest_samples(db, principal=ADMIN, sandbox_ids=ids)) == set(ids)
    assert (
        secured_client.get(
            f"/v1/sandboxes/{sandbox['id']}/metrics", headers={"Authorization": ""}
        ).status_code
        == 401
    )


def test_latest_samples_are_fresh_ones(api: Api, database: Database):
    fresh, stale, never = (_box(api) for _ in range(3))
    _series(database, fresh)
    _store(database, stale, _sample(600, memory_bytes=MIB))
    ids = [uuid.UUID(s["id"]) for s in (fresh, stale, never)]
    with database.session() as db:
        found = metrics.latest_samples(db, principal=ADMIN, sandbox_ids=ids)
        assert list(found) == [ids[0]]
        latest = found[ids[0]]
        assert latest.memory_bytes == 120 * MIB
        assert latest.cpu_millicores == pytest.approx(250, rel=0.01)
        with pytest.raises(InvalidInput):
            metrics.sandbox_metrics(db, principal=ADMIN, sandbox_id=ids[0], window_seconds=0)


def test_project_usage_sums_the_running_sandboxes(api: Api, client: TestClient, database):
    project = api.project()
    first, second, stopped = (_box(api, project) for _ in range(3))
    for sandbox in (first, second):
        _running(database, sandbox)
        _series(database, sandbox)
    _store(database, stopped, _sample(5, memory_bytes=999 * MIB))  # not running: not summed
    live = client.get(f"/v1/projects/{project['id']}/usage").json()["live"]
    assert live["sampledSandboxes"] == 2
    assert live["memoryBytes"] == 2 * 120 * MIB
    assert live["processes"] == 6
    assert live["cpuMillicores"] == pytest.approx(500, rel=0.01)
    assert live["networkTxBytesPerSecond"] == pytest.approx(2000, rel=0.01)
    assert live["diskBytes"] == 0 and "at" in live
    empty = client.get(f"/v1/projects/{api.project()['id']}/usage").json()["live"]
    assert empty["sampledSandboxes"] == 0 and "at" not in empty


def test_a_round_prunes_old_samples_and_skips_gone_sandboxes(api: Api, database: Database):
    sandbox = _box(api)
    sandbox_id, project_id = uuid.UUID(sandbox["id"]), uuid.UUID(sandbox["projectId"])
    _store(database, sandbox, _sample(120, memory_bytes=1), _sample(30, memory_bytes=2))
    gone = uuid.uuid4()
    stored = database_call(
        database,
        metrics.store_round,
        samples={sandbox_id: _sample(0, memory_bytes=3), gone: _sample(0, memory_bytes=4)},
        projects={sandbox_id: project_id, gone: project_id},
        retention_seconds=60,
    )
    assert stored == 1
    with database.session() as db:
        kept = db.exec(select(SandboxMetricSampleRow).order_by(SandboxMetricSampleRow.at)).all()
        assert [row.memory_bytes for row in kept] == [2, 3]
