"""Engines say when they fail: a pass that raises is logged with its traceback, recorded as
the engine's last error with its time (shown by /healthz and /v1/info), and the loop goes
on; a clean pass clears it. The failures here are real: an unreachable database, a runtime
whose ensure raises."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from backend.db import Database
from backend.engines import health
from backend.engines.artifact_collector import ArtifactCollector
from backend.engines.reconciler import Reconciler
from backend.engines.task_runner import TaskRunner
from backend.runtime.base import RuntimeStatus, SandboxSpec
from backend.storage import BlobStores
from backend.tasks.output import task_output_store
from tests.api.conftest import TOKEN, Api, build_api

UNREACHABLE = "sqlite:////proc/x.db"  # as in the /healthz test: it cannot be opened
NO_ERRORS = {name: {"lastError": None, "lastErrorAt": None} for name in health.ENGINES}


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    health.reset()
    yield
    health.reset()


class Leader:
    """Always the leader: the pass itself is what fails."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        pass


class BrokenRuntime:
    """Nothing runs, and starting anything fails unexpectedly (not a RuntimeFailure)."""

    name = "broken"

    async def status(self, sandbox_id: uuid.UUID) -> RuntimeStatus:
        return RuntimeStatus("missing")

    async def ensure(self, spec: SandboxSpec) -> RuntimeStatus:
        raise OSError("the runtime's disk is on fire")


async def failed_twice(record: health.EngineHealth) -> None:
    """Until a second pass has failed (the same error again is logged once a minute)."""
    await until(lambda: record.last_error_at is not None)
    first = record.last_error_at
    await until(lambda: record.last_error_at != first)


async def until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def failures(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == logging.ERROR]


def recent(moment: datetime | None) -> bool:
    return moment is not None and datetime.now(UTC) - moment < timedelta(seconds=30)


async def test_a_failing_reconcile_pass_is_logged_recorded_and_shown(settings, database, caplog):
    reconciler = Reconciler(Database(UNREACHABLE), BrokenRuntime(), settings)
    loop = asyncio.create_task(reconciler.run(0.01, Leader()))
    try:
        await failed_twice(health.engine_health("reconciler"))
        assert not loop.done()  # the loop goes on after a failed pass
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    record = failures(caplog, "mbox.reconciler")[0]
    assert record.getMessage() == "a reconcile pass failed"
    assert record.exc_info is not None  # logged with its traceback
    assert "OperationalError" in caplog.text and "Traceback" in caplog.text
    state = health.engine_health("reconciler")
    assert state.last_error.startswith("a reconcile pass failed: OperationalError: ")
    assert recent(state.last_error_at)

    client = TestClient(build_api(settings, database))
    shown = {
        "lastError": state.last_error,
        "lastErrorAt": state.last_error_at.isoformat().replace("+00:00", "Z"),
    }
    expected = NO_ERRORS | {"reconciler": shown}
    assert client.get("/v1/info").json()["engines"] == expected
    assert client.get("/healthz").json() == {"status": "ok", "engines": expected}


async def test_one_sandbox_that_fails_makes_the_pass_fail_and_a_clean_pass_clears_it(
    settings, database, caplog
):
    api = Api(TestClient(build_api(settings, database)))
    sandbox = api.sandbox(api.project(), api.template())
    reconciler = Reconciler(database, BrokenRuntime(), settings)
    with reconciler.health.watch("a reconcile pass"):
        await reconciler.reconcile_once()  # the sandbox's error is caught inside the pass
    state = reconciler.health
    assert state.last_error == (
        f"reconciling sandbox {sandbox['id']} failed: OSError: the runtime's disk is on fire"
    )
    [record] = failures(caplog, "mbox.reconciler")
    assert record.getMessage() == f"reconciling sandbox {sandbox['id']} failed"
    assert record.exc_info[0] is OSError
    with reconciler.health.watch("a reconcile pass"):
        pass  # a pass where nothing fails
    assert (state.last_error, state.last_error_at) == (None, None)


async def test_a_task_runner_that_cannot_reach_its_database_keeps_trying(settings, caplog):
    """Failing the tasks a previous server left running used to end the runner for good
    when the database was down; now the pass fails, is recorded, and is tried again."""
    runner = TaskRunner(Database(UNREACHABLE), BrokenRuntime(), task_output_store(settings))
    loop = asyncio.create_task(runner.run(0.01))
    try:
        await failed_twice(health.engine_health("taskRunner"))
        assert not loop.done()
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert failures(caplog, "mbox.tasks")[0].getMessage() == "a task runner pass failed"
    state = health.engine_health("taskRunner")
    assert state.last_error.startswith("a task runner pass failed: OperationalError: ")
    assert recent(state.last_error_at)
    assert health.engine_health("reconciler").last_error is None


async def test_a_failing_artifact_collection_is_recorded(settings, caplog):
    broken = Database(UNREACHABLE)
    collector = ArtifactCollector(broken, BlobStores(settings, broken), upload_grace=60)
    loop = asyncio.create_task(collector.run(0.01))
    try:
        await until(lambda: failures(caplog, "mbox.artifacts"))
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    state = health.engine_health("artifactCollector")
    assert state.last_error.startswith("an artifact collection pass failed: OperationalError")
    assert "Traceback" in caplog.text


def test_engines_are_fine_until_a_pass_fails(settings, database):
    client = TestClient(build_api(settings, database))
    assert client.get("/v1/info").json()["engines"] == NO_ERRORS
    assert client.get("/healthz").json() == {"status": "ok", "engines": NO_ERRORS}


def test_anonymous_callers_of_a_secured_server_see_no_engine_errors(settings, database):
    state = health.engine_health("reconciler")
    with state.watch("a reconcile pass"):
        raise RuntimeError("secret detail")
    secured = TestClient(build_api(settings, database, api_token=TOKEN))
    assert secured.get("/healthz").json() == {"status": "ok"}
    assert "engines" not in secured.get("/v1/info").json()
    signed_in = {"Authorization": f"Bearer {TOKEN}"}
    engines = secured.get("/v1/info", headers=signed_in).json()["engines"]
    assert engines["reconciler"]["lastError"] == (
        "a reconcile pass failed: RuntimeError: secret detail"
    )


async def test_a_cancelled_pass_is_not_a_failure():
    state = health.engine_health("taskRunner")
    with pytest.raises(asyncio.CancelledError), state.watch("a task runner pass"):
        raise asyncio.CancelledError
    assert state.last_error is None


def test_the_same_error_again_is_logged_once_a_minute_with_its_count(caplog):
    """A database outage fails every engine pass, every second: one traceback, then a
    line a minute saying how often it came, not 60 tracebacks a minute per engine."""
    record = health.engine_health("reconciler")
    caplog.set_level(logging.ERROR, logger=record.log.name)

    def fail(message: str) -> None:
        with record.watch("a reconcile pass"):
            raise OSError(message)

    for _ in range(5):
        fail("database is locked")
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None
    fail("disk I/O error")  # another error is news at once
    assert len(caplog.records) == 2
    fail("database is locked")
    assert len(caplog.records) == 3  # not the last one logged: news again
    for _ in range(3):
        fail("database is locked")
    assert len(caplog.records) == 3
    record._logged = (record._logged[0], record._logged[1] - timedelta(minutes=2))
    fail("database is locked")
    assert len(caplog.records) == 4
    assert "again 3 times since" in caplog.records[-1].getMessage()
    assert record.last_error == "a reconcile pass failed: OSError: database is locked"
    with record.watch("a reconcile pass"):
        pass  # recovered
    fail("database is locked")
    assert len(caplog.records) == 5
