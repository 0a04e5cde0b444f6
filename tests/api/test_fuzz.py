"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever
a client sends within or around the documented shapes, the server answers without a 5xx,
and every error is `{"error": "..."}`."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.api.conftest import build_api

EXAMPLES_PER_OPERATION = 10  # per operation and mode: ~35 s a database


def test_no_server_errors(settings, database, api):
    # Some real records, so generated ids sometimes hit existing rows.
    api.sandbox(api.project(), api.template())
    app = build_api(settings, database)
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(operation, mode)


def _exercise(operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same examples every run: CI never flakes on a rare draw
    )
    def run(case) -> None:
        response = case.call()
        where = f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
        assert response.status_code < 500, f"{where}: {response.text}"
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("error"), str), f"{where}: {response.text}"

    run()
