"""GET /v1/projects/{id}/usage: exact counts from product records, on SQLite and Postgres."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from backend.credentials.models import ProjectCredentialRow
from backend.db import Database, utcnow
from backend.policy.models import ProjectQuotaPolicyRow
from backend.quantities import format_quantity, parse_quantity
from backend.reporting.usage import project_usage
from backend.sandboxes.models import SandboxRow
from backend.sessions.models import RuntimeSessionRow
from backend.tasks.models import ExecutionTaskRow
from backend.templates.models import TemplateRow
from tests.api.conftest import Api


def _usage(api: Api, project: dict) -> dict[str, Any]:
    response = api.client.get(f"/v1/projects/{project['id']}/usage")
    assert response.status_code == 200, response.text
    return response.json()


def _set_status(db: Session, sandbox: dict, status: str, **fields: Any) -> None:
    row = db.get(SandboxRow, uuid.UUID(sandbox["id"]))
    assert row is not None
    row.status = status
    for name, value in fields.items():
        setattr(row, name, value)
    db.add(row)


def _tasks(db: Session, sandbox: dict, *statuses: str) -> None:
    for status in statuses:
        db.add(
            ExecutionTaskRow(
                project_id=uuid.UUID(sandbox["projectId"]),
                sandbox_id=uuid.UUID(sandbox["id"]),
                status=status,
                command=["true"],
            )
        )


def _session_rows(db: Session, sandbox: dict, *kinds: tuple[str, str]) -> None:
    started = utcnow()
    for kind, status in kinds:
        db.add(
            RuntimeSessionRow(
                project_id=uuid.UUID(sandbox["projectId"]),
                sandbox_id=uuid.UUID(sandbox["id"]),
                type=kind,
                status=status,
                started_at=started,
                ended_at=None if status == "active" else started,
            )
        )


def test_usage_counts_everything_the_project_owns(api: Api, database: Database):
    project = api.project()
    other = api.project()  # its records must not leak into the counts
    small = api.template(name="Small", cpuRequest="250m", memoryRequest="512Mi")
    large = api.template(name="Large", projectId=project["id"], cpuRequest="1", memoryRequest="1Gi")
    api.template(name="Bare")  # global, no requests
    api.template(name="Elsewhere", projectId=other["id"], cpuRequest="8")
    boxes = {
        name: api.sandbox(project, template)
        for name, template in [
            ("running", small),
            ("running-large", large),
            ("stopped", small),
            ("failed", large),
            ("pending", small),
            ("gone", small),
            ("cleaned", large),
        ]
    }
    api.sandbox(other, small)
    ref = {"adapter": "local", "kind": "process", "namespace": "ns", "name": "gone"}
    with database.session() as db:
        _set_status(db, boxes["running"], "running")
        _set_status(db, boxes["running-large"], "running")
        _set_status(db, boxes["stopped"], "stopped")
        _set_status(db, boxes["failed"], "failed")
        _set_status(db, boxes["gone"], "deleted", deleted_at=utcnow(), runtime_ref=ref)
        _set_status(db, boxes["cleaned"], "deleted", deleted_at=utcnow(), runtime_ref=None)
        _tasks(db, boxes["running"], "succeeded", "succeeded", "failed", "timed_out")
        _tasks(db, boxes["running-large"], "queued", "running", "canceled")
        _session_rows(
            db,
            boxes["running"],
            ("terminal", "active"),
            ("terminal", "ended"),
            ("browser", "failed"),
        )
        db.add(
            ProjectCredentialRow(
                project_id=uuid.UUID(project["id"]),
                name="Deploy key",
                slug="deploy-key",
                type="ssh",
                secret_ref={"name": "deploy"},
            )
        )
        db.commit()
    sandbox = boxes["running"]
    report = api.create(
        f"/v1/sandboxes/{sandbox['id']}/artifacts",
        {"kind": "report", "name": "r.txt", "uri": "client://r.txt", "sizeBytes": 40},
    )
    api.create(
        f"/v1/sandboxes/{sandbox['id']}/artifacts",
        {"kind": "log", "name": "run.log", "uri": "client://run.log", "sizeBytes": 2},
    )
    uploaded = api.client.put(f"/v1/artifacts/{report['id']}/content", content=b"x" * 1234)
    assert uploaded.status_code == 200, uploaded.text

    usage = _usage(api, project)

    assert usage["projectId"] == project["id"] and usage["generatedAt"].endswith("Z")
    sandboxes = usage["sandboxes"]
    assert {k: v for k, v in sandboxes.items() if not k.endswith("Requests")} == {
        "total": 7,
        "active": 5,
        "pending": 1,
        "running": 2,
        "stopped": 1,
        "failed": 1,
        "deleted": 2,
        "cleanupPending": 1,
    }
    # Live: small x3 (running, stopped, pending) + large x2 (running, failed).
    assert sandboxes["activeRequests"] == {
        "count": 5,
        "cpu": {"total": "2750m", "declared": 5, "missing": 0, "invalid": 0},
        "memory": {"total": "3584Mi", "declared": 5, "missing": 0, "invalid": 0},
        "storage": {"declared": 0, "missing": 5, "invalid": 0},
    }
    assert sandboxes["runningRequests"]["count"] == 2
    assert sandboxes["runningRequests"]["cpu"]["total"] == "1250m"
    assert sandboxes["runningRequests"]["memory"]["total"] == "1536Mi"
    assert usage["executionTasks"] == {
        "total": 7,
        "queued": 1,
        "running": 1,
        "succeeded": 2,
        "failed": 1,
        "canceled": 1,
        "timedOut": 1,
    }
    assert usage["runtimeSessions"] == {
        "total": 3,
        "active": 1,
        "ended": 1,
        "failed": 1,
        "terminal": 2,
        "ide": 0,
        "notebook": 0,
        "browser": 1,
        "command": 0,
        "custom": 0,
    }
    artifacts = usage["artifacts"]
    assert artifacts["total"] == 2 and artifacts["report"] == 1 and artifacts["log"] == 1
    assert artifacts["retainedContent"] == 1 and artifacts["retainedBytes"] == 1234
    assert artifacts["referencedBytes"] == 40 + 2  # the sizes the references declared
    assert "maxRetainedBytes" not in artifacts and "maxActive" not in sandboxes
    templates = usage["templates"]
    assert templates["projectScoped"] == 1
    assert templates["globalVisible"] >= 2  # ours, plus any built-in global templates
    assert {"value": "250m", "count": 1} in templates["cpuRequests"]
    assert {"value": "8", "count": 1} not in templates["cpuRequests"]
    assert usage["credentials"] == {
        "total": 1,
        "git": 0,
        "registry": 0,
        "kubernetes": 0,
        "ssh": 1,
        "generic": 0,
    }
    assert usage["notes"][0] == "usage is aggregated from mbox product records"
    assert usage["notes"][2] == "no quota policy is enforced for this project"


def test_an_empty_project_has_zero_counts(api: Api):
    usage = _usage(api, api.project())
    assert usage["sandboxes"]["total"] == 0
    assert usage["sandboxes"]["activeRequests"]["cpu"] == {
        "declared": 0,
        "missing": 0,
        "invalid": 0,
    }
    assert usage["executionTasks"]["total"] == 0
    assert usage["artifacts"]["retainedBytes"] == 0


def test_enforced_quota_limits_are_reported(api: Api, database: Database):
    project = api.project()
    with database.session() as db:
        db.add(
            ProjectQuotaPolicyRow(
                project_id=uuid.UUID(project["id"]),
                enforcement="enforced",
                max_active_sandboxes=3,
                max_retained_artifact_bytes=10_000,
            )
        )
        db.commit()
    usage = _usage(api, project)
    assert usage["sandboxes"]["maxActive"] == 3
    assert usage["artifacts"]["maxRetainedBytes"] == 10_000
    assert "enforced" in usage["notes"][2]


def test_invalid_and_missing_requests_are_counted(api: Api, database: Database):
    project = api.project()
    odd = api.template(name="Odd", memoryRequest="1G")
    api.sandbox(project, odd)
    with database.session() as db:  # stored before the service checked quantities
        db.get(TemplateRow, uuid.UUID(odd["id"])).cpu_request = "lots"
        db.commit()
    api.sandbox(project, api.template(name="Plain"))
    requests = _usage(api, project)["sandboxes"]["activeRequests"]
    assert requests["cpu"] == {"declared": 0, "missing": 1, "invalid": 1}
    assert requests["memory"] == {"total": "1G", "declared": 1, "missing": 1, "invalid": 0}


def test_unknown_or_malformed_project_is_a_clear_error(client):
    missing = client.get(f"/v1/projects/{uuid.uuid4()}/usage")
    assert missing.status_code == 404 and "error" in missing.json()
    malformed = client.get("/v1/projects/not-a-uuid/usage")
    assert malformed.status_code in (400, 404) and "error" in malformed.json()


def test_usage_is_in_the_openapi_document(client):
    document = client.get("/v1/openapi.json").json()
    operation = document["paths"]["/v1/projects/{projectID}/usage"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ProjectUsage"}
    for name in ("ProjectUsage", "ProjectSandboxUsage", "ResourceQuantityUsage"):
        assert name in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("values", "binary", "total"),
    [
        (["250m", "250m"], False, "500m"),
        (["1", "500m"], False, "1500m"),
        (["0.5", "0.5"], False, "1"),
        (["512Mi", "512Mi"], True, "1Gi"),
        (["1Gi", "512Mi"], True, "1536Mi"),
        (["1G", "500M"], False, "1500M"),
    ],
)
def test_quantities_sum_to_their_canonical_spelling(values, binary, total):
    parsed = [parse_quantity(value) for value in values]
    assert all(p is not None and p[1] == binary for p in parsed)
    assert format_quantity(sum(p[0] for p in parsed if p), binary=binary) == total


@pytest.mark.parametrize("text", ["", "lots", "-1", "1.2.3", "5Xi", "1 Gi"])
def test_bad_quantities_are_invalid(text):
    assert parse_quantity(text) is None


def _statements(database: Database, project_id: str) -> int:
    """How many SQL statements one usage summary runs."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.session() as db:
            project_usage(db, project_id=uuid.UUID(project_id))
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_summary_costs_the_same_for_many_records(api: Api, database: Database):
    """Grouped queries, not a query (or a Python loop) per row."""
    project = api.project()
    template = api.template(cpuRequest="100m")
    first = api.sandbox(project, template)
    with database.session() as db:
        _tasks(db, first, "succeeded")
        db.commit()
    few = _statements(database, project["id"])
    with database.session() as db:
        for index in range(300):
            db.add(
                SandboxRow(
                    project_id=uuid.UUID(project["id"]),
                    template_id=uuid.UUID(template["id"]),
                    name=f"bulk {index}",
                    slug=f"bulk-{index}",
                    namespace="mbox-test",
                    status=("running", "stopped", "failed")[index % 3],
                )
            )
        _tasks(db, first, *(["succeeded", "failed"] * 500))
        db.commit()
    assert _statements(database, project["id"]) == few
    usage = _usage(api, project)
    assert usage["sandboxes"]["active"] == 301
    assert usage["sandboxes"]["activeRequests"]["cpu"]["total"] == "30100m"
    assert usage["executionTasks"] == {
        **usage["executionTasks"],
        "total": 1001,
        "succeeded": 501,
        "failed": 500,
    }
