"""Shared fixtures: a fresh, migrated database per test on SQLite and on a real Postgres.

The Postgres cluster is started once per run from the installed server binaries
(tests/support/postgres.py); each test gets its own database cloned from a migrated
template, so tests are isolated and fast.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.db import Database
from backend.settings import Settings, load_settings
from tests.support.postgres import PostgresCluster

TEMPLATE_DB = "mbox_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    try:
        template = Database(cluster.url())
        with template.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
        template.dispose()
        migrated = Database(cluster.url(TEMPLATE_DB))
        migrated.migrate()
        migrated.dispose()
        yield cluster
    finally:
        cluster.stop()


def _postgres_url(cluster: PostgresCluster) -> str:
    name = f"mbox_test_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mbox.db'}"
    return _postgres_url(request.getfixturevalue("postgres"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)
