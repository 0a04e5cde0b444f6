"""Audit feeds: filters, ordering, limits and their errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture
def history(client, api):
    """Two projects with a few mutations, attributed to different actors and sources."""
    alpha = api.project(name="alpha")
    client.headers.update({"X-Mbox-Audit-Actor": "ana", "X-Mbox-Audit-Source": "cli"})
    beta = api.project(name="beta")
    client.patch(
        f"/v1/projects/{beta['id']}", json={"name": "beta 2"}, headers={"X-Mbox-Request-ID": "r-9"}
    )
    client.headers.pop("X-Mbox-Audit-Actor")
    client.headers.pop("X-Mbox-Audit-Source")
    return alpha, beta


def test_newest_first_and_filters(client, api, history):
    alpha, beta = history
    everything = api.audit()
    assert [e["action"] for e in everything] == [
        "project.updated",
        "project.created",
        "project.created",
    ]
    assert [e["resourceName"] for e in api.audit(actor="ana")] == ["beta", "beta"]
    assert len(api.audit(source="cli", action="project.created")) == 1
    assert len(api.audit(source="http-api")) == 1
    assert [e["action"] for e in api.audit(requestId="r-9")] == ["project.updated"]
    assert len(api.audit(projectId=alpha["id"])) == 1
    assert len(api.audit(resourceType="project", resourceId=beta["id"])) == 2
    assert api.audit(resourceType="sandbox") == []
    scoped = client.get(
        f"/v1/projects/{beta['id']}/audit-events", params={"action": "project.updated"}
    )
    assert [e["action"] for e in scoped.json()["items"]] == ["project.updated"]


def test_time_window_and_limit(client, api, history):
    now = datetime.now(UTC)
    since = (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    until = (now + timedelta(minutes=5)).isoformat()
    assert len(api.audit(since=since, until=until)) == 3
    assert api.audit(since=(now + timedelta(minutes=1)).isoformat()) == []
    nanos = "2020-01-01T00:00:00.123456789Z"
    assert len(api.audit(since=nanos)) == 3
    assert len(api.audit(limit=2)) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be between 1 and 200"),
        ({"limit": "201"}, "limit must be between 1 and 200"),
        ({"limit": "ten"}, "limit must be between 1 and 200"),
        ({"since": "yesterday"}, "since must be an RFC3339 timestamp"),
        ({"until": "2026-01-01"}, "until must be an RFC3339 timestamp"),
        (
            {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since must be before or equal to until",
        ),
        ({"projectId": "nope"}, "invalid projectId query"),
        ({"resourceId": "nope"}, "invalid resourceId query"),
    ],
)
def test_invalid_filters(client, params, message):
    response = client.get("/v1/audit-events", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_project_feed_checks_the_project(client):
    missing = client.get("/v1/projects/9b2e4c1a-0000-4000-8000-000000000000/audit-events")
    assert missing.status_code == 404
    assert client.get("/v1/projects/xyz/audit-events").json() == {"error": "invalid project id"}
