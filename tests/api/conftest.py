"""API fixtures: the real FastAPI app (same factory the server uses) over a fresh database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from backend.api.app import create_api
from backend.db import Database
from backend.models import metadata
from backend.runtime import create_runtime
from backend.services import build_services
from backend.settings import Settings

TOKEN = "test-token-9f2c"


def build_api(settings: Settings, database: Database, **overrides: object):
    """The app under test. Its runtime starts no sandbox in these synchronous tests
    (runtime behaviour is tested on one event loop in tests/runtime)."""
    settings = settings.model_copy(update=overrides)
    return create_api(services=build_services(settings, database, create_runtime(settings)))


@pytest.fixture
def client(settings: Settings, database: Database) -> TestClient:
    return TestClient(build_api(settings, database))


@pytest.fixture
def secured_client(settings: Settings, database: Database) -> TestClient:
    return TestClient(build_api(settings, database, api_token=TOKEN))


@pytest.fixture
def row_counts(database: Database) -> Callable[[], dict[str, int]]:
    """Row count of every table, to prove that a refused request changed nothing."""

    def counts() -> dict[str, int]:
        with database.engine.connect() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in metadata.sorted_tables
            }

    return counts


class Api:
    """Small helpers that create resources through the API and assert success."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def create(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=payload)
        assert response.status_code == 201, response.text
        return response.json()

    def project(self, **fields: Any) -> dict[str, Any]:
        name = fields.pop("name", f"Project {uuid.uuid4().hex[:8]}")
        payload = {"name": name, "defaultNamespace": "mbox-test", **fields}
        return self.create("/v1/projects", payload)

    def template(self, **fields: Any) -> dict[str, Any]:
        name = fields.pop("name", f"Template {uuid.uuid4().hex[:8]}")
        payload = {"name": name, "image": "host", **fields}
        return self.create("/v1/templates", payload)

    def sandbox(self, project: dict, template: dict | None = None, **fields: Any) -> dict:
        payload = {"projectId": project["id"], "name": f"box {uuid.uuid4().hex[:8]}", **fields}
        if template is not None:
            payload["templateId"] = template["id"]
        return self.create("/v1/sandboxes", payload)

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.client.get("/v1/audit-events", params=filters)
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
