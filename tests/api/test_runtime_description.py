"""The runtime describes itself (RuntimeAdapter.describe): the boundary summaries, /v1/info
and a stopped sandbox's /runtime target are rendered from its structured facts, so another
adapter's facts come out in its own words with no change to the domain."""

from __future__ import annotations

import dataclasses
import json
import uuid
from types import SimpleNamespace

from starlette.testclient import TestClient

from backend.auth.models import Principal
from backend.runtime.base import (
    Egress,
    ImageHandling,
    Network,
    Persistence,
    Placement,
    RuntimeDescription,
    RuntimeTarget,
    SecretHandling,
)
from backend.sandboxes.models import SandboxRow
from backend.sandboxes.runtime_access import RuntimeAccess
from tests.api.conftest import Api, build_api


def other_runtime(real: RuntimeDescription) -> RuntimeDescription:
    """Facts of a runtime that is not the local one: pulls images, forgets the workspace on
    stop, reaches everything through the pod network, places sandboxes in their namespace."""
    return dataclasses.replace(
        real,
        adapter="other",
        isolation=dataclasses.replace(real.isolation, mechanism="gVisor", namespaces=("PID",)),
        network=Network(
            {"open": Egress("all", "pod network", unfiltered_because="no NetworkPolicy")},
            filter="none",
            summary="pod network",
        ),
        image=ImageHandling(pulled=True),
        persistence=Persistence(workspace_kept_on_stop=False),
        secrets=SecretHandling(mounted=False),
        placement=Placement(namespace="", container="main"),
        controller_permissions=("create pods",),
        access=("exec into the pod",),
        cleanup=("delete removes the pod",),
    )


def test_the_local_runtime_describes_itself(client):
    described = client.app.state.services.runtime.describe()
    assert described.adapter == "local" and described.available
    assert described.isolation.mechanism == "bubblewrap"
    assert described.network.egress("restricted") == Egress("loopback")
    assert described.network.egress("no-such-policy") == Egress("loopback")
    assert described.image.pulled and described.persistence.workspace_kept_on_stop
    assert described.image.runs_host("host") and not described.image.pods
    assert described.details["isolation"] == "bubblewrap"
    assert described.details["disk"] == described.isolation.disk.text()
    info = client.get("/v1/info").json()["runtimeController"]
    assert info["details"] == dict(described.details)


def test_another_runtimes_facts_render_in_its_own_words(settings, database, api, monkeypatch):
    app = build_api(settings, database)
    described = other_runtime(app.state.services.runtime.describe())
    monkeypatch.setattr(app.state.services.runtime, "describe", lambda: described)
    client = TestClient(app)
    other = type(api)(client)
    template = other.template(networkPolicy="open", image="ghcr.io/acme/app:1")
    summary = client.get(f"/v1/templates/{template['id']}/boundary").json()
    found = {check["id"]: check for check in summary["checks"]}
    assert summary["imageProjection"] == "pulled"
    assert found["image"] == {
        "id": "image",
        "label": "Image",
        "status": "pass",
        "message": "ghcr.io/acme/app:1 is pulled and run.",
    }
    assert found["isolation"]["message"] == "The other runtime isolates with gVisor."
    assert summary["networkPolicyProjection"] == "egress-through-pod-network"
    assert found["network-policy"]["message"] == (
        "Network policy open: outbound connections are allowed (pod network), unfiltered: "
        "no NetworkPolicy."
    )
    assert summary["runtime"]["adapter"] == "other"
    assert summary["runtime"]["isolation"][0] == "own PID namespaces (gVisor)"
    assert (
        "writable workspace at /workspace, emptied when it stops"
        in (summary["runtime"]["isolation"])
    )
    assert summary["controllerPermissions"] == ["create pods"]
    assert summary["runtimeAccess"] == ["exec into the pod"]
    assert summary["cleanup"] == ["delete removes the pod"]
    text = json.dumps(summary)
    assert "bubblewrap" not in text and "slirp4netns" not in text and "local" not in text
    details = client.get("/v1/info").json()["runtimeAccess"]["details"]
    assert details["isolation"] == "gVisor" and details["network"] == "pod network"


async def test_a_stopped_sandbox_is_placed_where_the_runtime_says(client, database, settings):
    api = Api(client)
    sandbox = api.sandbox(api.project(), api.template(), namespace="team-a")
    sandbox_id = uuid.UUID(sandbox["id"])
    with database.session() as db:  # stopped, after it ran
        row = db.get(SandboxRow, sandbox_id)
        row.status = "stopped"
        row.runtime_ref = {"adapter": "other", "kind": "Pod", "namespace": "x", "name": "y"}
        db.commit()
    described = other_runtime(client.app.state.services.runtime.describe())
    elsewhere = SimpleNamespace(describe=lambda: described)
    caller = {"principal": Principal(subject="test"), "sandbox_id": sandbox_id}
    found = await RuntimeAccess(database, elsewhere, settings).target(**caller)
    assert found == RuntimeTarget("team-a", str(sandbox_id), "main", "Stopped")
    local = await client.app.state.services.runtime_access.target(**caller)
    assert (local.namespace, local.container) == ("local", "sandbox")
