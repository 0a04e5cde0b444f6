"""The tamper-evident audit trail: every event sealed into a hash chain at commit,
verification that names the first broken link, cursor pages, the NDJSON export, and
retention that removes a prefix under a signed checkpoint. On SQLite and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from starlette.testclient import TestClient

from backend.audit import service as audit
from backend.audit.chain import GENESIS, row_hash
from backend.audit.models import AuditCheckpointRow, AuditEventRow
from backend.auth.models import Principal
from backend.db import Database, _alembic_config, utcnow
from backend.engines.audit_retention import RETENTION_LOCK_KEY, AuditRetention
from backend.engines.leadership import Leadership
from backend.projects import service as projects
from backend.projects.models import ProjectCreate
from backend.settings import load_settings
from tests.api.conftest import TOKEN, Api, build_api

EVENTS = AuditEventRow.__table__
CHECKPOINTS = AuditCheckpointRow.__table__
ADMIN = Principal(subject="chain-test", role="admin", source="test")


def _verify(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/audit-events/verify")
    assert response.status_code == 200, response.text
    return response.json()


def _rows(database: Database) -> list[Any]:
    with database.engine.connect() as conn:
        return list(conn.execute(sa.select(EVENTS).order_by(EVENTS.c.seq)))


def _mutate(api: Api, projects_count: int = 4) -> None:
    """Several kinds of mutation: creates, updates, deletes, a denial-free template."""
    made = [api.project() for _ in range(projects_count)]
    api.template()
    for project in made[:2]:
        response = api.client.patch(f"/v1/projects/{project['id']}", json={"name": "renamed"})
        assert response.status_code == 200, response.text
    assert api.client.delete(f"/v1/projects/{made[-1]['id']}").status_code == 204


def _execute(database: Database, statement: Any) -> None:
    with database.engine.begin() as conn:
        conn.execute(statement)


def test_a_chain_of_api_mutations_verifies(api: Api, database: Database):
    _mutate(api)
    rows = _rows(database)
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    report = _verify(api.client)
    assert report == {
        "verified": True,
        "checkedEvents": len(rows),
        "firstSeq": 1,
        "lastSeq": len(rows),
    }
    # The feed shows each event's place in the chain.
    newest = api.audit(limit=1)[0]
    assert newest["seq"] == len(rows) and newest["hash"] == rows[-1].hash


def test_deleting_a_project_keeps_its_events_verifiable(api: Api, database: Database):
    project = api.project()
    assert api.client.delete(f"/v1/projects/{project['id']}").status_code == 204
    created = _rows(database)[0]
    assert created.project_id is None and created.sealed_project_id == uuid.UUID(project["id"])
    assert _verify(api.client)["verified"] is True


def test_an_altered_action_is_named(api: Api, database: Database):
    _mutate(api)
    _execute(database, EVENTS.update().where(EVENTS.c.seq == 3).values(action="project.nothing"))
    broken = _verify(api.client)
    assert broken["verified"] is False
    assert broken["broken"]["seq"] == 3 and broken["broken"]["problem"] == "altered"
    assert broken["broken"]["eventId"] == str(_rows(database)[2].id)
    assert broken["checkedEvents"] == 2 and broken["lastSeq"] == 2


def test_altered_metadata_is_named(api: Api, database: Database):
    _mutate(api)
    _execute(database, EVENTS.update().where(EVENTS.c.seq == 2).values(metadata={"x": 1}))
    assert _verify(api.client)["broken"]["seq"] == 2


def test_an_altered_and_rehashed_event_breaks_the_next_link(api: Api, database: Database):
    _mutate(api)
    row = _rows(database)[3]
    forged = {**row._mapping, "actor": "someone else"}
    digest = row_hash(_Row(forged), seq=row.seq, prev_hash=row.prev_hash)
    _execute(
        database, EVENTS.update().where(EVENTS.c.seq == 4).values(actor="someone else", hash=digest)
    )
    broken = _verify(api.client)["broken"]
    assert broken["seq"] == 5 and broken["problem"] == "inserted"


def test_a_deleted_event_is_named_by_the_next_link(api: Api, database: Database):
    _mutate(api)
    after = _rows(database)[4]
    _execute(database, EVENTS.delete().where(EVENTS.c.seq == 4))
    broken = _verify(api.client)["broken"]
    assert broken["problem"] == "missing" and broken["seq"] == 4
    assert broken["eventId"] == str(after.id)


def test_a_deleted_last_event_is_missing(api: Api, database: Database):
    _mutate(api)
    last = len(_rows(database))
    _execute(database, EVENTS.delete().where(EVENTS.c.seq == last))
    broken = _verify(api.client)["broken"]
    assert broken == {
        "seq": last,
        "problem": "missing",
        "message": broken["message"],
    }


class _Row:
    """Attribute access over a row mapping (row_hash reads attributes)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.meta = values["metadata"]


def _forged(after: Any, seq: int, prev_hash: str) -> dict[str, Any]:
    values = {
        **after._mapping,
        "id": uuid.uuid4(),
        "action": "project.deleted",
        "seq": seq,
        "prev_hash": prev_hash,
    }
    values["hash"] = row_hash(_Row(values), seq=seq, prev_hash=prev_hash)
    return values


def test_a_forged_event_at_the_end_is_named(api: Api, database: Database):
    _mutate(api)
    last = _rows(database)[-1]
    forged = _forged(last, last.seq + 1, last.hash)  # a fresh seq and a correct own hash
    _execute(database, EVENTS.insert().values(**forged))
    broken = _verify(api.client)["broken"]
    assert broken["problem"] == "inserted" and broken["seq"] == last.seq + 1
    assert broken["eventId"] == str(forged["id"])


def test_a_replaced_event_breaks_the_next_link(api: Api, database: Database):
    _mutate(api)
    rows = _rows(database)
    _execute(database, EVENTS.delete().where(EVENTS.c.seq == 3))
    _execute(database, EVENTS.insert().values(**_forged(rows[2], 3, rows[1].hash)))
    broken = _verify(api.client)["broken"]
    assert broken["problem"] == "inserted" and broken["seq"] == 4


def test_an_unsealed_or_out_of_range_event_is_named(api: Api, database: Database):
    _mutate(api)
    row = _rows(database)[0]
    for seq in (None, 0):
        forged = {**_forged(row, 1, GENESIS), "seq": seq}
        _execute(database, EVENTS.insert().values(**forged))
        broken = _verify(api.client)["broken"]
        assert broken["problem"] == "inserted" and broken["eventId"] == str(forged["id"])
        _execute(database, EVENTS.delete().where(EVENTS.c.id == forged["id"]))
    assert _verify(api.client)["verified"] is True


def test_concurrent_writers_keep_the_chain_contiguous(api: Api, database: Database):
    writers, errors = 40, []

    def create(index: int) -> None:
        try:
            with database.session() as db:
                data = ProjectCreate(name=f"Concurrent {index}", defaultNamespace="mbox-test")
                projects.create_project(db, principal=ADMIN, data=data)
        except Exception as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _rows(database)
    assert [row.seq for row in rows] == list(range(1, writers + 1))
    assert _verify(api.client) == {
        "verified": True,
        "checkedEvents": writers,
        "firstSeq": 1,
        "lastSeq": writers,
    }


def test_a_rolled_back_event_takes_no_seq(database: Database, api: Api):
    with database.session() as db:
        audit.record(db, principal=ADMIN, action="x.rolled-back", resource_type="test")
        db.flush()
        db.rollback()
        audit.record(db, principal=ADMIN, action="x.kept", resource_type="test")
        db.commit()
    assert [(row.seq, row.action) for row in _rows(database)] == [(1, "x.kept")]
    assert _verify(api.client)["verified"] is True


def _walk(client: TestClient, path: str, **filters: Any) -> list[dict[str, Any]]:
    seen, cursor = [], None
    while True:
        params = {**filters, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["items"]
        cursor = body.get("nextCursor")
        if cursor is None:
            assert "X-Mbox-List-Truncated" not in response.headers
            return seen
        assert response.headers["X-Mbox-List-Truncated"] == "true"


def test_cursor_pages_walk_every_event_once(api: Api, database: Database):
    made = [api.project() for _ in range(12)]
    for project in made[:5]:
        api.client.patch(f"/v1/projects/{project['id']}", json={"name": "again"})
    everything = _walk(api.client, "/v1/audit-events", limit=4)
    assert len(everything) == 17 == len({event["id"] for event in everything})
    assert [event["seq"] for event in everything] == list(range(17, 0, -1))
    created = _walk(api.client, "/v1/audit-events", limit=5, action="project.created")
    assert {event["resourceId"] for event in created} == {project["id"] for project in made}
    one = _walk(api.client, f"/v1/projects/{made[0]['id']}/audit-events", limit=1)
    assert [event["action"] for event in one] == ["project.updated", "project.created"]


@pytest.mark.parametrize("cursor", ["nonsense", "bm90IGEgY3Vyc29y", "!!", "MjAyNnx4"])
def test_an_invalid_cursor_is_a_400(api: Api, cursor: str):
    response = api.client.get("/v1/audit-events", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid cursor"}


def _export(client: TestClient, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit-events/export", params=filters)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_the_export_is_the_feed_oldest_first_with_the_chain(api: Api, database: Database):
    _mutate(api, projects_count=6)
    lines = _export(api.client)
    feed = api.audit(limit=200)
    assert [line["seq"] for line in lines] == list(range(1, len(feed) + 1))
    assert sorted(lines, key=lambda line: line["seq"], reverse=True) == [
        {**event, **_export_only(line)}
        for event, line in zip(
            feed, sorted(lines, key=lambda line: line["seq"], reverse=True), strict=True
        )
    ]
    assert all(line["prevHash"] and line["hash"] for line in lines)
    created = _export(api.client, action="project.created")
    assert {line["id"] for line in created} == {
        event["id"] for event in feed if event["action"] == "project.created"
    }
    bad = api.client.get("/v1/audit-events/export", params={"since": "yesterday"})
    assert bad.status_code == 400


def _export_only(line: dict[str, Any]) -> dict[str, Any]:
    return {key: line[key] for key in ("sealedProjectId",) if key in line}


def _settings_with_retention(settings: Any, days: int = 1) -> Any:
    return settings.model_copy(update={"audit_retention_days": days})


def test_retention_prunes_a_prefix_under_a_signed_checkpoint(
    api: Api, database: Database, settings: Any
):
    _mutate(api)
    old = len(_rows(database))
    cut = utcnow()
    api.project()
    api.project()
    with database.session() as db:
        removed = audit.prune_expired(
            db, settings=_settings_with_retention(settings), now=cut + timedelta(days=1), batch=3
        )
    assert removed == old
    rows = _rows(database)
    assert rows[0].seq == old + 1
    assert rows[-1].action == "audit.pruned"
    report = _verify(api.client)
    assert report["verified"] is True
    assert report["firstSeq"] == old + 1 and report["checkedEvents"] == 3
    checkpoint = report["checkpoint"]
    assert checkpoint["uptoSeq"] == old and checkpoint["removedCount"] == old
    with database.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(CHECKPOINTS)).scalar() == 1
    # Nothing more is old enough: a second run removes nothing.
    with database.session() as db:
        again = audit.prune_expired(
            db, settings=_settings_with_retention(settings), now=cut + timedelta(days=1)
        )
    assert again == 0


def test_retention_off_keeps_everything(api: Api, database: Database, settings: Any):
    _mutate(api)
    with database.session() as db:
        assert audit.prune_expired(db, settings=settings, now=utcnow() + timedelta(days=999)) == 0


def test_retention_does_not_remove_a_broken_chain(api: Api, database: Database, settings: Any):
    _mutate(api)
    _execute(database, EVENTS.update().where(EVENTS.c.seq == 2).values(actor="mallory"))
    with database.session() as db, pytest.raises(audit.ChainBroken):
        audit.prune_expired(
            db, settings=_settings_with_retention(settings), now=utcnow() + timedelta(days=9)
        )
    assert _rows(database)[0].seq == 2  # only what verified before the break went
    assert _verify(api.client)["broken"]["seq"] == 2


def _prune_all(database: Database, settings: Any) -> None:
    with database.session() as db:
        audit.prune_expired(
            db, settings=_settings_with_retention(settings), now=utcnow() + timedelta(days=2)
        )


def test_a_forged_checkpoint_fails_verification(api: Api, database: Database, settings: Any):
    _mutate(api)
    _prune_all(database, settings)
    assert _verify(api.client)["verified"] is True
    _execute(database, CHECKPOINTS.update().values(removed_count=1))
    broken = _verify(api.client)["broken"]
    assert broken["problem"] == "checkpoint"


def test_a_checkpoint_hiding_removed_events_fails(api: Api, database: Database):
    """Deleting a prefix and writing a checkpoint for it needs the server's key."""
    _mutate(api)
    rows = _rows(database)
    _execute(database, EVENTS.delete().where(EVENTS.c.seq <= 3))
    _execute(
        database,
        CHECKPOINTS.insert().values(
            id=uuid.uuid4(),
            upto_seq=3,
            last_hash=rows[2].hash,
            removed_count=3,
            signature="0" * 64,
            created_at=utcnow(),
        ),
    )
    broken = _verify(api.client)["broken"]
    assert broken["problem"] == "checkpoint" and broken["seq"] == 3


def _token(client: TestClient, role: str, project_ids: list[str] | None = None) -> str:
    payload: dict[str, Any] = {"name": f"{role} token", "principal": f"{role}-1", "role": role}
    if project_ids is not None:
        payload["projectIds"] = project_ids
    response = client.post("/v1/tokens", json=payload, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_who_may_verify_and_export(settings: Any, database: Database):
    client = TestClient(build_api(settings, database, api_token=TOKEN))
    shared = {"Authorization": f"Bearer {TOKEN}"}
    project = client.post(
        "/v1/projects", json={"name": "Audited", "defaultNamespace": "ns"}, headers=shared
    ).json()
    tokens = {
        "viewer": _token(client, "viewer"),
        "developer": _token(client, "developer"),
        "auditor": _token(client, "auditor"),
        "scoped": _token(client, "auditor", [project["id"]]),
    }

    def get(name: str, path: str) -> int:
        return client.get(path, headers={"Authorization": f"Bearer {tokens[name]}"}).status_code

    for path in ("/v1/audit-events/verify", "/v1/audit-events/export"):
        assert get("viewer", path) == 403
        assert get("developer", path) == 403
        assert get("auditor", path) == 200
    assert get("scoped", "/v1/audit-events/verify") == 403
    assert get("scoped", "/v1/audit-events/export") == 200  # only its project's events
    assert client.get("/v1/audit-events/verify").status_code == 401


def test_the_openapi_document_describes_the_chain(api: Api):
    document = api.client.get("/v1/openapi.json").json()
    verify = document["paths"]["/v1/audit-events/verify"]["get"]
    assert verify["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditChainReport"
    }
    export = document["paths"]["/v1/audit-events/export"]["get"]["responses"]["200"]
    assert "application/x-ndjson" in export["content"]
    feed = document["paths"]["/v1/audit-events"]["get"]["parameters"]
    assert "cursor" in {parameter["name"] for parameter in feed}
    event = document["components"]["schemas"]["AuditEvent"]["properties"]
    assert {"seq", "prevHash", "hash"} <= set(event)


async def test_the_retention_engine_runs_only_when_set(
    database: Database, settings: Any, monkeypatch: pytest.MonkeyPatch
):
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(audit, "prune_expired", lambda db, **kw: calls.append(kw) or 0)

    def leadership() -> Leadership:
        return Leadership(database, key=RETENTION_LOCK_KEY, name="audit-retention")

    await asyncio.wait_for(AuditRetention(database, settings).run(leadership()), 5)  # off
    assert calls == []
    engine = AuditRetention(database, _settings_with_retention(settings))
    task = asyncio.create_task(engine.run(leadership(), interval=0.01))
    try:
        async with asyncio.timeout(10):
            while len(calls) < 2:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert calls[0]["settings"].audit_retention_days == 1


def test_metadata_reads_back_as_it_was_hashed(database: Database, api: Api):
    """JSONB gives 1e20 back as an integer and keys as strings: sealing stores the value a
    read will see, so the hash holds on either database."""
    metadata = {"big": 1e20, "one": 1.0, "half": 0.5, "list": [{"x": 2.0}, (1, 2)], 3: "k"}
    with database.session() as db:
        audit.record(
            db, principal=ADMIN, action="x.numbers", resource_type="test", metadata=metadata
        )
        db.commit()
    stored = _rows(database)[0].metadata
    assert stored["big"] == 10**20 and stored["list"] == [{"x": 2}, [1, 2]] and stored["3"] == "k"
    assert _verify(api.client)["verified"] is True


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster = request.getfixturevalue("postgres")
    name = f"chain_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return cluster.url(name)


def test_the_migration_chains_existing_events(fresh_url: str, tmp_path: Any):
    """Events written before 0011 are chained in (created_at, id) order, in batches."""
    settings = load_settings(data_dir=tmp_path / "data", database_url=fresh_url)
    database = Database(fresh_url)
    with database.engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0010")
        conn.commit()
    start = utcnow() - timedelta(days=1)
    with database.engine.begin() as conn:
        for i in range(2500):  # more than one backfill batch
            conn.execute(
                sa.insert(
                    sa.table("audit_events", *[sa.column(c.name, c.type) for c in OLD])
                ).values(**_old_event(i, start + timedelta(seconds=2500 - i)))
            )
    database.migrate()
    rows = _rows(database)
    assert [row.seq for row in rows] == list(range(1, 2501))
    assert [row.metadata["i"] for row in rows] == list(range(2499, -1, -1))  # oldest first
    with database.session() as db:
        report = audit.verify_chain(db, principal=ADMIN, settings=settings)
        assert report.verified and report.checked_events == 2500
        audit.record(db, principal=ADMIN, action="x.after", resource_type="test")
        db.commit()
        assert audit.verify_chain(db, principal=ADMIN, settings=settings).last_seq == 2501
    database.dispose()


OLD = [c for c in EVENTS.c if c.name not in ("seq", "prev_hash", "hash", "sealed_project_id")]


def _old_event(i: int, created_at: Any) -> dict[str, Any]:
    labels = ("resource_name", "actor", "source", "principal", "request_id", "operation")
    return {
        **dict.fromkeys(labels, ""),
        "id": uuid.uuid4(),
        "project_id": None,
        "resource_id": None,
        "action": "project.created",
        "resource_type": "project",
        "metadata": {"i": i, "f": 1.5},
        "created_at": created_at,
    }
