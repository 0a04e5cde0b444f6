"""A session opened for project-scoped principal reads and writes only its projects' rows,
on both databases: by primary key, in lists, in counts, and in bulk updates."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import col, func, select, update

import backend.auth.access  # noqa: F401 - installs the scope filter
from backend.db import Database
from backend.projects.models import ProjectRow
from backend.templates.models import TemplateRow


def _projects(database: Database) -> tuple[uuid.UUID, uuid.UUID]:
    with database.session() as db:
        mine = ProjectRow(name="Mine", slug="mine", default_namespace="mine")
        theirs = ProjectRow(name="Theirs", slug="theirs", default_namespace="theirs")
        db.add_all([mine, theirs])
        db.flush()
        for project in (mine, theirs):
            db.add(
                TemplateRow(
                    name=project.slug, slug=project.slug, project_id=project.id, image="img"
                )
            )
        db.add(TemplateRow(name="shared", slug="shared-scope-test", image="img"))
        db.commit()
        return mine.id, theirs.id


def test_a_scoped_session_sees_only_its_projects(database: Database) -> None:
    mine, theirs = _projects(database)
    with database.session(frozenset({mine})) as db:
        assert db.get(ProjectRow, mine) is not None
        assert db.get(ProjectRow, theirs) is None
        assert [p.id for p in db.exec(select(ProjectRow))] == [mine]
        slugs = {t.slug for t in db.exec(select(TemplateRow))}
        assert "theirs" not in slugs and "mine" in slugs
        assert any(t.project_id is None for t in db.exec(select(TemplateRow)))  # built-ins
        count = db.exec(select(func.count(col(TemplateRow.id)))).one()
        assert count == len(slugs)
        db.exec(update(ProjectRow).values(name="renamed"))
        db.commit()
    with database.session() as db:
        names = {p.id: p.name for p in db.exec(select(ProjectRow))}
        assert names[mine] == "renamed" and names[theirs] == "Theirs"


def test_an_unscoped_session_sees_everything(database: Database) -> None:
    _, theirs = _projects(database)
    with database.session() as db:
        assert db.get(ProjectRow, theirs) is not None
        assert db.exec(sa.select(sa.func.count()).select_from(ProjectRow)).one()[0] >= 2
