"""The services are built once and do their own checks, whoever calls them: the API, the
console and the engines share one `Services`, and a call that skips the route (as the
console's do) still meets the sandbox's existence and runtime checks."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend.api.app import create_api
from backend.auth.models import Principal
from backend.errors import Conflict, NotFound
from backend.services import build_services
from tests.api.conftest import Api

CALLER = Principal(subject="test", source="test")


def test_the_app_serves_the_services_it_was_given(settings, database):
    services = build_services(settings, database)
    assert create_api(services=services).state.services is services


def test_file_calls_check_that_the_sandbox_exists(settings, database):
    files = build_services(settings, database).files
    missing = {"principal": CALLER, "sandbox_id": uuid.uuid4(), "path": "a.txt"}
    calls = [
        files.list(**missing),
        files.read(**missing),
        files.write(**missing, data=b"x"),
        files.delete(**missing),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            asyncio.run(call)


def test_runtime_reads_check_the_sandbox_and_its_runtime(settings, database, api: Api):
    access = build_services(settings, database).runtime_access
    missing = {"principal": CALLER, "sandbox_id": uuid.uuid4()}
    with pytest.raises(NotFound):
        asyncio.run(access.events(**missing))
    sandbox = api.sandbox(api.project(), api.template())  # not reconciled: no runtime yet
    pending = {"principal": CALLER, "sandbox_id": uuid.UUID(sandbox["id"])}
    for call in (access.target(**pending), access.logs(**pending, lines=10)):
        with pytest.raises(Conflict, match="sandbox runtime is not ready"):
            asyncio.run(call)
