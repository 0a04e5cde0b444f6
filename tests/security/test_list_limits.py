"""Attack: one GET of a list route makes the server load and serialise a whole table
(every project, sandbox, task, audit event...), so a caller with a token, or a table that
grew, can exhaust the server's memory and time. Stopped by: every list route under /v1
takes a `limit` (default 100, at most 500; the audit feeds keep the contract's 1..200,
default 50), 400 JSON above the maximum, and says `X-Mbox-List-Truncated: true` when it
cut the list."""

from __future__ import annotations

import uuid

import pytest

from backend.api.responses import DEFAULT_PAGE, MAX_PAGE, TRUNCATED_HEADER
from tests.api.conftest import Api


@pytest.fixture
def routes(client) -> list[str]:
    api = Api(client)
    project = api.project()
    sandbox = api.sandbox(project, api.template())
    box = f"/v1/sandboxes/{sandbox['id']}"
    return [
        "/v1/projects",
        "/v1/templates",
        "/v1/sandboxes",
        f"{box}/tasks",
        f"{box}/artifacts",
        f"/v1/tasks/{uuid.uuid4()}/artifacts",
        f"{box}/sessions",
        f"{box}/preview-links",
        f"{box}/events",
        f"{box}/files",
        "/v1/audit-events",
        f"/v1/projects/{project['id']}/audit-events",
    ]


def test_every_list_route_declares_a_limit(client):
    """Every GET whose answer is `{"items": [...]}` takes `limit` (found from the OpenAPI
    document, so a new list route without one fails here)."""
    document = client.get("/v1/openapi.json").json()
    lists = []
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        schema = (
            operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        ).get("schema", {})
        if "items" in schema.get("properties", {}) or path.endswith("/files"):
            lists.append(path)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert "limit" in names, f"{path} has no limit"
    assert len(lists) >= 12, lists


def test_a_limit_above_the_maximum_is_a_400(client, routes):
    for route in routes:
        maximum = 200 if route.endswith("audit-events") else MAX_PAGE
        for bad in (str(maximum + 1), "0", "-1", "ten", "1e3"):
            response = client.get(route, params={"limit": bad})
            assert response.status_code == 400, (route, bad, response.text)
            assert response.json() == {"error": f"limit must be between 1 and {maximum}"}
        assert client.get(route, params={"limit": str(maximum)}).status_code != 400, route


def test_lists_are_cut_at_the_limit_and_say_so(client, routes):
    api = Api(client)
    for _ in range(3):
        api.project()
    cut = client.get("/v1/projects", params={"limit": "2"})
    assert len(cut.json()["items"]) == 2
    assert cut.headers[TRUNCATED_HEADER] == "true"
    whole = client.get("/v1/projects", params={"limit": "10"})
    assert len(whole.json()["items"]) == 4
    assert TRUNCATED_HEADER.lower() not in whole.headers
    # The same newest-first order as an uncut list.
    assert [p["id"] for p in whole.json()["items"][:2]] == [p["id"] for p in cut.json()["items"]]
    cut_routes = []
    for route in routes:
        response = client.get(route, params={"limit": "1"})
        if response.status_code != 200:
            continue
        assert len(response.json()["items"]) <= 1, route
        # Each route asks its service for one row more: the header says exactly when
        # the whole list is longer (a route that forgot it would never say so).
        maximum = "200" if route.endswith("audit-events") else str(MAX_PAGE)
        whole = client.get(route, params={"limit": maximum}).json()["items"]
        assert (TRUNCATED_HEADER.lower() in response.headers) == (len(whole) > 1), route
        if len(whole) > 1:
            cut_routes.append(route)
    assert len(cut_routes) >= 3, cut_routes


def test_the_default_page_is_capped(client, database):
    """Without `limit`, a list holds at most DEFAULT_PAGE items, however big the table."""
    from backend.projects.models import ProjectRow

    with database.session() as db:
        for n in range(DEFAULT_PAGE + 5):
            db.add(ProjectRow(name=f"p{n}", slug=f"p{n}", default_namespace="ns"))
        db.commit()
    response = client.get("/v1/projects")
    assert len(response.json()["items"]) == DEFAULT_PAGE
    assert response.headers[TRUNCATED_HEADER] == "true"
