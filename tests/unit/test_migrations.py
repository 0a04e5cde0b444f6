"""Migrations: the schema they build is exactly the models', and concurrent starts are safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import select

from backend.db import MIGRATIONS_DIR, Database, current_revision, utcnow
from backend.models import metadata
from backend.projects.models import ProjectRow
from backend.sandboxes.models import SandboxHoldRow, SandboxRow
from backend.templates.models import TemplateRow

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


def _new_postgres_database(postgres, name: str) -> str:
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres.url(name)


def test_concurrent_starts_on_postgres_do_not_race(postgres):
    url = _new_postgres_database(postgres, "race_test")
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
    assert slugs == ["code-interpreter", "nodejs", "python", "shell"]
    assert all(row.project_id is None for row in rows)
    node = next(row for row in rows if row.slug == "nodejs")
    assert "3000" in str(node.exposed_ports)
    database.dispose()


def test_builtin_templates_get_their_image_and_build_recipes(tmp_path):
    """0014: the Shell template's image is `host`; 0015: Python and Node.js carry build
    recipes of Debian's own packages (their `image` stays what a cluster pulls); 0016:
    with a verify command each."""
    database = Database(f"sqlite:///{tmp_path / 'builds.db'}")
    database.migrate()
    with database.session() as db:
        rows = {row.slug: row for row in db.exec(select(TemplateRow))}
    assert rows["shell"].image == "host" and rows["shell"].build == {}
    assert rows["python"].image == "python:3.12-bookworm"
    assert rows["python"].build == {
        "base": "debian:bookworm",
        "packages": ["python3", "python3-venv"],
        "files": [],
        "run": [],
        "verify": "python3 --version && python3 -m venv --help >/dev/null",
        "user": "user",
    }
    assert rows["nodejs"].image == "node:22-bookworm-slim"
    assert rows["nodejs"].build == {
        "base": "debian:bookworm",
        "packages": ["nodejs"],
        "files": [],
        "run": [],
        "verify": "node --version",
        "user": "user",
    }
    assert {row.image_pull_policy for row in rows.values()} == {""}
    database.dispose()


def test_build_recipes_spare_a_builtin_whose_image_was_changed(tmp_path):
    """0015 gives the built-in Python template its recipe only if its image is still the
    one it was seeded with: an operator's own image is left to be pulled."""
    database = Database(f"sqlite:///{tmp_path / 'changed.db'}")
    _upgrade(database, "0014")
    with database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE environment_templates SET image = 'registry.example/py:1' "
                "WHERE slug = 'python' AND project_id IS NULL"
            )
        )
    database.migrate()
    with database.session() as db:
        rows = {row.slug: row for row in db.exec(select(TemplateRow))}
    assert rows["python"].image == "registry.example/py:1" and rows["python"].build == {}
    assert rows["nodejs"].build["packages"] == ["nodejs"]
    database.dispose()


def test_the_code_interpreter_builtin_is_built_from_debian_packages(tmp_path):
    """0019: E2B's code interpreter template (Jupyter kernels and the data stack), built
    locally from its recipe; `image` is what a cluster runs."""
    database = Database(f"sqlite:///{tmp_path / 'interpreter.db'}")
    database.migrate()
    with database.session() as db:
        row = db.exec(select(TemplateRow).where(TemplateRow.slug == "code-interpreter")).one()
    assert row.project_id is None and row.meta["builtin"] is True
    assert row.image == "quay.io/jupyter/scipy-notebook:python-3.11"
    assert set(row.build["packages"]) >= {"python3-ipykernel", "python3-jupyter-client"}
    assert row.build["user"] == "user" and "import ipykernel" in row.build["verify"]
    database.dispose()


def test_the_code_interpreter_builtin_spares_an_existing_global_slug(tmp_path):
    """An operator's own global `code-interpreter` template (made before 0019) stays."""
    database = Database(f"sqlite:///{tmp_path / 'own.db'}")
    _upgrade(database, "0018")
    with database.session() as db:
        db.add(TemplateRow(name="Ours", slug="code-interpreter", image="registry.example/ci:1"))
        db.commit()
    database.migrate()
    with database.session() as db:
        rows = list(db.exec(select(TemplateRow).where(TemplateRow.slug == "code-interpreter")))
    assert [(row.name, row.image, row.build) for row in rows] == [
        ("Ours", "registry.example/ci:1", {})
    ]
    database.dispose()


def _upgrade(database: Database, revision: str) -> None:
    with database.engine.connect() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_holds_the_live_sandboxes_already_there(kind, tmp_path, request):
    """0008 backfills a hold for every live sandbox (not deleted, or deleted but its runtime
    not yet cleaned up); history holds nothing."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'holds.db'}"
    else:
        url = _new_postgres_database(request.getfixturevalue("postgres"), "holds_test")
    database = Database(url)
    _upgrade(database, "0007")
    ref = {"adapter": "local", "kind": "process", "namespace": "ns", "name": "box"}
    with database.session() as db:
        template = db.exec(select(TemplateRow.id)).first()
        project = ProjectRow(name="Old", slug="old", default_namespace="ns")
        boxes = {
            name: SandboxRow(
                project_id=project.id,
                template_id=template,
                name=name,
                slug=name,
                namespace="ns",
                runtime_ref=runtime_ref,
                deleted_at=deleted_at,
            )
            for name, runtime_ref, deleted_at in [
                ("running", ref, None),
                ("pending", None, None),
                ("awaiting-cleanup", ref, utcnow()),
                ("history", None, utcnow()),
            ]
        }
    with database.engine.begin() as conn:
        _insert_as_of(conn, [project, *boxes.values()])
    database.migrate()
    with database.session() as db:
        held = {hold.sandbox_id: hold.template_id for hold in db.exec(select(SandboxHoldRow))}
    assert held == {boxes[name].id: template for name in ("running", "pending", "awaiting-cleanup")}
    database.dispose()


def _insert_as_of(conn: sa.Connection, rows: list) -> None:
    """Insert model rows into an older schema: only the columns it has already (the
    models are at the newest revision)."""
    for row in rows:
        mapper = sa.inspect(type(row))
        table = mapper.local_table
        present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
        values = {
            attr.columns[0].name: getattr(row, attr.key)
            for attr in mapper.column_attrs
            if attr.columns[0].name in present
        }
        conn.execute(table.insert().values(values))
