"""0018: the built-in Python template declares http 8000 (its sandboxes offer a preview),
unless someone already gave it ports of their own; downgrading takes only that port away."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import select

from backend.db import MIGRATIONS_DIR, Database
from backend.templates.models import TemplateRow

HTTP = [{"name": "http", "port": 8000, "protocol": "TCP"}]


def _migrate(database: Database, step: str, revision: str) -> None:
    with database.engine.connect() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)
        connection.commit()


def _ports(database: Database) -> dict[str, list]:
    with database.session() as db:
        return {row.slug: row.exposed_ports for row in db.exec(select(TemplateRow))}


def test_the_builtin_python_template_declares_port_8000(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'ports.db'}")
    database.migrate()
    ports = _ports(database)
    assert ports["python"] == HTTP
    assert ports["shell"] == [] and ports["nodejs"][0]["port"] == 3000
    _migrate(database, "downgrade", "0017")
    assert _ports(database)["python"] == []
    database.dispose()


def test_ports_someone_chose_are_kept(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'chosen.db'}")
    _migrate(database, "upgrade", "0017")
    chosen = '[{"name": "api", "port": 5000, "protocol": "TCP"}]'
    with database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE environment_templates SET exposed_ports = :ports "
                "WHERE slug = 'python' AND project_id IS NULL"
            ),
            {"ports": chosen},
        )
    database.migrate()
    assert _ports(database)["python"] == [{"name": "api", "port": 5000, "protocol": "TCP"}]
    database.dispose()
