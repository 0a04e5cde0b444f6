"""A project's artifacts (the console's Artifacts page reads them through
`artifacts.list_for_project` and `artifacts.origins`): deleted sandboxes' included,
filtered by sandbox, task and kind, and never another project's."""

from __future__ import annotations

import uuid

import pytest

from backend.artifacts import service as artifacts
from backend.db import Database
from backend.errors import InvalidInput, NotFound
from backend.tasks.models import ExecutionTaskRow
from tests.api.conftest import Api


def _artifact(api: Api, sandbox: dict, name: str, kind: str, **fields) -> dict:
    payload = {"kind": kind, "name": name, "uri": f"client://{name}", **fields}
    return api.create(f"/v1/sandboxes/{sandbox['id']}/artifacts", payload)


def _task(database: Database, sandbox: dict) -> uuid.UUID:
    with database.session() as db:
        task = ExecutionTaskRow(
            project_id=uuid.UUID(sandbox["projectId"]),
            sandbox_id=uuid.UUID(sandbox["id"]),
            command=["make", "report"],
            status="succeeded",
        )
        db.add(task)
        db.commit()
        return task.id


@pytest.fixture
def project_with_artifacts(api: Api, database: Database) -> dict:
    project = api.project()
    template = api.template()
    kept, gone = api.sandbox(project, template), api.sandbox(project, template)
    task = _task(database, kept)
    _artifact(api, kept, "report.html", "report", taskId=str(task))
    _artifact(api, kept, "build.log", "log")
    _artifact(api, gone, "old.log", "log")
    assert api.client.delete(f"/v1/sandboxes/{gone['id']}").status_code in (202, 204)
    other = api.sandbox(api.project(), template)
    _artifact(api, other, "elsewhere.log", "log")
    return {"project": project, "kept": kept, "gone": gone, "task": task, "other": other}


def _names(rows) -> list[str]:
    return sorted(row.name for row, _ in rows)


def test_a_projects_artifacts_include_deleted_sandboxes_and_filter(
    database: Database, project_with_artifacts: dict
) -> None:
    found = project_with_artifacts
    project_id = uuid.UUID(found["project"]["id"])
    with database.session() as db:
        every = artifacts.list_for_project(db, project_id=project_id)
        assert _names(every) == ["build.log", "old.log", "report.html"]
        gone = uuid.UUID(found["gone"]["id"])
        assert _names(artifacts.list_for_project(db, project_id=project_id, sandbox_id=gone)) == [
            "old.log"
        ]
        by_task = artifacts.list_for_project(db, project_id=project_id, task_id=found["task"])
        assert _names(by_task) == ["report.html"]
        logs = artifacts.list_for_project(db, project_id=project_id, kind="log")
        assert _names(logs) == ["build.log", "old.log"]
        both = artifacts.list_for_project(
            db, project_id=project_id, sandbox_id=uuid.UUID(found["kept"]["id"]), kind="log"
        )
        assert _names(both) == ["build.log"]
        with pytest.raises(InvalidInput):
            artifacts.list_for_project(db, project_id=project_id, kind="nonsense")

        sandboxes, tasks = artifacts.origins(db, project_id=project_id)
        assert {s.name for s in sandboxes} == {found["kept"]["name"], found["gone"]["name"]}
        assert [s.deleted_at is not None for s in sandboxes if s.id == gone] == [True]
        assert [t.id for t in tasks] == [found["task"]]


def test_another_projects_artifacts_stay_hidden(
    database: Database, project_with_artifacts: dict
) -> None:
    """Attack: a principal scoped to one project asks for another's artifacts (by its
    id, or by naming the other's sandbox as the filter). Stopped by: the scoped session
    (the project is not found) and the project condition (the sandbox filter finds none)."""
    found = project_with_artifacts
    mine = uuid.UUID(found["other"]["projectId"])
    theirs = uuid.UUID(found["project"]["id"])
    with database.session(frozenset({mine})) as db:
        with pytest.raises(NotFound):
            artifacts.list_for_project(db, project_id=theirs)
        with pytest.raises(NotFound):
            artifacts.origins(db, project_id=theirs)
        crossed = artifacts.list_for_project(
            db, project_id=mine, sandbox_id=uuid.UUID(found["kept"]["id"])
        )
        assert crossed == []
        assert _names(artifacts.list_for_project(db, project_id=mine)) == ["elsewhere.log"]
