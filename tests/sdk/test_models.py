"""mbox.models: generated from the server's OpenAPI document, and true to real responses."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.testclient import TestClient

from mbox import models
from tests.api.conftest import Api, client  # noqa: F401  (the fixture, over SQLite and Postgres)

ROOT = Path(__file__).resolve().parents[2]
OUT_OF_DATE = (
    "mbox/models.py is out of date with the server's OpenAPI document: "
    "run .venv/bin/python scripts/generate_sdk_models.py"
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_sdk_models", ROOT / "scripts" / "generate_sdk_models.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _generator()


@pytest.fixture(scope="module")
def document(generator: ModuleType) -> dict[str, Any]:
    return generator.openapi_document()


def test_models_match_the_servers_openapi_document(
    generator: ModuleType, document: dict[str, Any]
) -> None:
    committed = (ROOT / "mbox" / "models.py").read_text()
    assert generator.render(document) == committed, OUT_OF_DATE


def test_one_dataclass_per_component_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert models.__all__ == sorted(schemas)  # (schema names are identifiers so far)
    for name, schema in schemas.items():
        cls = getattr(models, name)
        assert dataclasses.is_dataclass(cls), name
        assert {json_name for json_name, *_ in cls._fields} == set(schema.get("properties", {}))
        assert dataclasses.fields(cls)[-1].name == "raw"


def _known(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The keys of a response that its schema knows, with a value (to_json omits None)."""
    return {
        key: value
        for key, value in body.items()
        if key in schema["properties"] and value is not None
    }


def test_round_trip_of_real_responses(client: TestClient, document: dict[str, Any]) -> None:  # noqa: F811
    api = Api(client)
    schemas = document["components"]["schemas"]
    project = api.project(repositoryUrl="https://example.com/repo.git")
    template = api.template(
        exposedPorts=[{"name": "web", "port": 8000}, {"name": "admin", "port": 9000}],
        env={"MODE": "test"},
        startupCommand=["python", "-m", "http.server"],
    )
    sandbox = api.sandbox(project, template)

    parsed_project = models.Project.from_json(project)
    assert isinstance(parsed_project.created_at, datetime.datetime)
    assert parsed_project.created_at.tzinfo is not None
    assert parsed_project.default_namespace == "mbox-test"
    assert parsed_project.repository_url == "https://example.com/repo.git"
    assert parsed_project.default_template_id is None  # absent from the body

    parsed_template = models.EnvironmentTemplate.from_json(template)
    ports = parsed_template.exposed_ports
    assert ports is not None and [type(port) for port in ports] == [models.TemplatePort] * 2
    assert [(port.name, port.port) for port in ports] == [("web", 8000), ("admin", 9000)]
    assert parsed_template.startup_command == ["python", "-m", "http.server"]
    assert isinstance(parsed_template.updated_at, datetime.datetime)

    parsed_sandbox = models.Sandbox.from_json(sandbox)
    assert parsed_sandbox.project_id == project["id"]
    assert parsed_sandbox.template_id == template["id"]
    assert isinstance(parsed_sandbox.requested_at, datetime.datetime)
    assert parsed_sandbox.ports and isinstance(parsed_sandbox.ports[0], models.SandboxPort)

    fetched = client.get(f"/v1/sandboxes/{sandbox['id']}")
    assert fetched.status_code == 200, fetched.text
    listed = client.get("/v1/templates")
    assert listed.status_code == 200, listed.text
    listed_templates = [
        models.EnvironmentTemplate.from_json(item) for item in listed.json()["items"]
    ]
    assert parsed_template in listed_templates  # equality ignores .raw

    cases = [
        (models.Project, "Project", project),
        (models.EnvironmentTemplate, "EnvironmentTemplate", template),
        (models.Sandbox, "Sandbox", sandbox),
        (models.Sandbox, "Sandbox", fetched.json()),
    ]
    for cls, schema_name, body in cases:
        instance = cls.from_json(body)
        assert instance.raw == body
        assert instance.to_json() == _known(body, schemas[schema_name]), schema_name
        # JSON-safe all the way down (date-times back to the server's text).
        assert json.loads(json.dumps(instance.to_json())) == instance.to_json()


def test_unknown_keys_are_kept_in_raw() -> None:
    body = {
        "id": "b0b1e1c2-0000-4000-8000-000000000000",
        "name": "P",
        "slug": "p",
        "defaultNamespace": "mbox-test",
        "createdAt": "2026-12-03T05:29:53.611103Z",
        "updatedAt": "2026-12-03T05:29:53Z",
        "metadata": {"team": "sdk"},
        "fieldFromTheFuture": {"nested": [1, 2]},
    }
    project = models.Project.from_json(body)
    assert project.raw["fieldFromTheFuture"] == {"nested": [1, 2]}
    assert not hasattr(project, "field_from_the_future")
    assert "fieldFromTheFuture" not in project.to_json()
    assert project.created_at == datetime.datetime(
        2026, 12, 3, 5, 29, 53, 611103, tzinfo=datetime.UTC
    )
    expected = {key: value for key, value in body.items() if key != "fieldFromTheFuture"}
    assert project.to_json() == expected
    assert "raw" not in repr(project)


def test_open_schemas_and_unions() -> None:
    """An open schema keeps its other keys; a known object shape becomes its model."""
    denied = {
        "id": "b0b1e1c2-0000-4000-8000-000000000001",
        "action": "policy.denied",
        "resourceType": "sandbox",
        "createdAt": "2026-12-03T05:29:53.611103Z",
        "metadata": {"operation": "sandbox.create", "reason": "image", "image": "evil:latest"},
    }
    event = models.AuditEvent.from_json(denied)
    assert isinstance(event.metadata, models.PolicyDeniedAuditMetadata)
    assert event.metadata.reason == "image"
    assert event.to_json() == denied  # the open schema keeps "image"

    other = {**denied, "action": "project.created", "metadata": {"name": "P"}}
    event = models.AuditEvent.from_json(other)
    assert event.metadata == {"name": "P"}
    assert event.to_json() == other

    state = models.EngineState.from_json({"any": "thing"})
    assert state.to_json() == {"any": "thing"}


def test_construct_a_request_body() -> None:
    body = models.TemplateCreate(
        name="T", image="python:3.12", exposed_ports=[models.TemplatePortInput(port=8000)]
    )
    assert body.to_json() == {"name": "T", "image": "python:3.12", "exposedPorts": [{"port": 8000}]}


def test_importing_models_imports_only_the_standard_library() -> None:
    """The module on its own (not through mbox/__init__.py, which the client grows)."""
    code = (
        "import importlib.util, sys; before = set(sys.modules); "
        "spec = importlib.util.spec_from_file_location('standalone_models', sys.argv[1]); "
        "module = sys.modules[spec.name] = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(module); "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "mbox" / "models.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {name.split(".")[0] for name in result.stdout.split()} - {"standalone_models"}
    assert "dataclasses" in imported  # the probe saw the module's imports
    outside = sorted(name for name in imported if name not in sys.stdlib_module_names)
    assert outside == [], f"mbox.models imports outside the standard library: {outside}"
