"""Templates' Kubernetes fields: runtimeClassName and warmPoolSize (stored, validated,
omitted when unset), and a sandbox's scheduledAt phase timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.test_projects import report_runtime

RUNTIME_CLASS_ERROR = (
    "runtimeClassName must be a DNS subdomain name such as gvisor or kata-qemu "
    "(lower-case letters, digits, '-' and '.'; at most 253 characters)"
)
WARM_POOL_ERROR = "warmPoolSize must be between 0 and 100"


def test_unset_fields_are_omitted(api):
    template = api.template()
    assert "runtimeClassName" not in template and "warmPoolSize" not in template


def test_create_and_update_with_the_fields(client, api):
    template = api.template(runtimeClassName=" kata-qemu ", warmPoolSize=0)
    assert (template["runtimeClassName"], template["warmPoolSize"]) == ("kata-qemu", 0)
    path = f"/v1/templates/{template['id']}"

    changed = client.patch(path, json={"runtimeClassName": "gvisor", "warmPoolSize": 3})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["runtimeClassName"], changed.json()["warmPoolSize"]) == ("gvisor", 3)
    kept = client.patch(path, json={"name": "Renamed"}).json()
    assert (kept["runtimeClassName"], kept["warmPoolSize"]) == ("gvisor", 3)

    # "" clears the class; null puts the pool back to the server's default.
    cleared = client.patch(path, json={"runtimeClassName": "", "warmPoolSize": None}).json()
    assert "runtimeClassName" not in cleared and "warmPoolSize" not in cleared
    assert client.get(path).json() == cleared


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"runtimeClassName": "gVisor"}, RUNTIME_CLASS_ERROR),
        ({"runtimeClassName": "-kata"}, RUNTIME_CLASS_ERROR),
        ({"runtimeClassName": "kata_qemu"}, RUNTIME_CLASS_ERROR),
        ({"runtimeClassName": "a" * 254}, RUNTIME_CLASS_ERROR),
        ({"warmPoolSize": -1}, WARM_POOL_ERROR),
        ({"warmPoolSize": 101}, WARM_POOL_ERROR),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(client, api, row_counts, fields, message):
    template = api.template(runtimeClassName="gvisor", warmPoolSize=2)
    before = row_counts()
    refusal = (400, {"error": message, "detail": {"field": next(iter(fields))}})
    created = client.post("/v1/templates", json={"name": "T", "image": "img", **fields})
    assert (created.status_code, created.json()) == refusal
    path = f"/v1/templates/{template['id']}"
    updated = client.patch(path, json=fields)
    assert (updated.status_code, updated.json()) == refusal
    assert row_counts() == before
    assert client.get(path).json() == template


def test_a_long_dotted_runtime_class_is_a_dns_subdomain(api):
    name = ".".join(["a" * 63] * 4)[:253]  # 253 characters, each label at most 63
    assert api.template(runtimeClassName=name)["runtimeClassName"] == name


def test_warm_pool_size_must_be_a_number(client):
    refused = client.post("/v1/templates", json={"name": "T", "image": "i", "warmPoolSize": "2"})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid JSON request body")
    assert "warmPoolSize" in refused.json()["detail"]["reason"]


def test_scheduled_at_is_reported_and_cleared_on_start(client, api, database):
    project = api.project()
    sandbox = api.sandbox(project, api.template())
    assert "scheduledAt" not in sandbox
    scheduled = datetime(2026, 12, 2, 10, 0, 5, tzinfo=UTC)
    report_runtime(database, sandbox, "running", status="pending", scheduled_at=scheduled)
    path = f"/v1/sandboxes/{sandbox['id']}"
    assert datetime.fromisoformat(client.get(path).json()["scheduledAt"]) == scheduled
    assert client.post(f"{path}/stop").status_code == 200
    started = client.post(f"{path}/start").json()
    assert "scheduledAt" not in started


def test_the_local_boundary_says_it_ignores_the_kubernetes_fields(client, api):
    plain, sized = api.template(), api.template(runtimeClassName="gvisor", warmPoolSize=2)
    facts = {
        template["id"]: client.get(f"/v1/templates/{template['id']}/boundary").json()["runtime"]
        for template in (plain, sized)
    }
    ignored = "runtimeClassName and warmPoolSize: recorded, ignored by this runtime"
    assert not any(ignored in fact for fact in facts[plain["id"]]["isolation"])
    assert facts[sized["id"]]["isolation"][-1].startswith(ignored)
