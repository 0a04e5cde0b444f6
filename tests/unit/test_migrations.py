"""Migrations: the schema they build is exactly the models', and concurrent starts are safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.db import Database, current_revision
from backend.models import metadata

ROOT = Path(__file__).parents[2]


def test_migrated_schema_matches_the_models(database):
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_uses_wal_and_foreign_keys(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.migrate()
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def _migrate_concurrently(url: str, processes: int = 4) -> list[subprocess.CompletedProcess]:
    code = f"from backend.db import Database; Database({url!r}).migrate()"
    started = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return [(p.wait(timeout=120), p.stderr.read()) for p in started]


def test_concurrent_starts_on_postgres_do_not_race(postgres):
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE race_test"))
    admin.dispose()
    url = postgres.url("race_test")
    results = _migrate_concurrently(url)
    assert all(code == 0 for code, _ in results), results
    database = Database(url)
    assert current_revision(database.engine) is not None
    database.dispose()


def test_concurrent_starts_on_sqlite_do_not_race(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    results = _migrate_concurrently(url)
    assert all(code == 0 for code, _ in results), results
    assert current_revision(Database(url).engine) is not None


def test_first_start_seeds_the_builtin_templates(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    database.migrate()
    database.migrate()  # a second start seeds nothing more
    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT slug, exposed_ports, project_id FROM environment_templates")
        ).all()
    slugs = sorted(row.slug for row in rows)
    assert slugs == ["nodejs", "python", "shell"]
    assert all(row.project_id is None for row in rows)
    node = next(row for row in rows if row.slug == "nodejs")
    assert "3000" in str(node.exposed_ports)
    database.dispose()
