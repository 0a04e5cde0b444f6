"""E2B's control plane beyond the quickstart: pause and resume, listing with its
filters and pages, metrics, the older v1 create, and bad input in E2B's error shape."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2b import Sandbox, SandboxQuery

from tests.e2b.conftest import E2BProject
from tests.support.live import LiveServer


@pytest.fixture
def api(live: LiveServer, e2b_env: E2BProject):
    with httpx.Client(base_url=live.url, headers={"X-API-KEY": e2b_env.api_key}) as client:
        yield client


def test_pause_then_connect_resumes_with_the_workspace(e2b_env: E2BProject) -> None:
    sb = Sandbox.create(template=e2b_env.template, timeout=120)
    try:
        sb.commands.run("echo kept > note.txt")
        assert sb.pause() is True
        assert Sandbox.get_info(sb.sandbox_id).state.value == "paused"
        assert not sb.is_running()
        again = Sandbox.connect(sb.sandbox_id)
        assert again.commands.run("cat note.txt").stdout == "kept\n"
        assert Sandbox.get_info(sb.sandbox_id).state.value == "running"
    finally:
        sb.kill()


def test_list_filters_and_pages(e2b_env: E2BProject) -> None:
    made = [
        Sandbox.create(
            template=e2b_env.template, timeout=120, metadata={"batch": "b1", "n": str(n)}
        )
        for n in range(3)
    ]
    try:
        query = SandboxQuery(metadata={"batch": "b1"})
        pages = Sandbox.list(query=query, limit=2)
        first = pages.next_items()
        assert len(first) == 2 and pages.has_next
        rest = pages.next_items()
        assert not pages.has_next
        listed = {s.sandbox_id for s in first + rest}
        assert listed == {sb.sandbox_id for sb in made}
        assert all(s.metadata["batch"] == "b1" for s in first + rest)
        assert Sandbox.list(query=SandboxQuery(metadata={"batch": "none"})).next_items() == []
    finally:
        for sb in made:
            sb.kill()


def test_v1_create_and_bad_input(api: httpx.Client, e2b_env: E2BProject) -> None:
    created = api.post("/sandboxes", json={"templateID": e2b_env.template, "timeout": 60})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["envdVersion"] and body["envdAccessToken"].startswith("mbxs_")
    sandbox_id = body["sandboxID"]
    refused = api.post(f"/sandboxes/{sandbox_id}/timeout", json={"timeout": -5})
    assert refused.status_code == 400
    assert set(refused.json()) == {"code", "message"} and "timeout" in refused.json()["message"]
    assert api.post("/v2/sandboxes", content=b"{nope").status_code == 400
    assert api.post("/v2/sandboxes", json={}).json()["code"] == 400
    assert api.get(f"/sandboxes/{sandbox_id}/metrics").status_code == 200
    assert api.post(f"/sandboxes/{sandbox_id}/snapshots", json={}).status_code == 404
    assert api.delete(f"/sandboxes/{sandbox_id}").status_code == 204
    assert api.delete(f"/sandboxes/{sandbox_id}").status_code == 404
    assert api.get("/sandboxes/not-a-uuid").status_code == 404


def test_console_pages_keep_their_paths(live: LiveServer) -> None:
    """Without an API key, /sandboxes is still the console's page, not the E2B API."""
    page = httpx.get(f"{live.url}/sandboxes", follow_redirects=False)
    assert "application/json" not in page.headers.get("content-type", "")


def test_a_retried_create_with_its_idempotency_key_gets_the_same_sandbox(
    e2b_env: E2BProject,
) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    first = Sandbox.create(template=e2b_env.template, timeout=60, idempotency_key=key)
    try:
        again = Sandbox.create(template=e2b_env.template, timeout=60, idempotency_key=key)
        assert again.sandbox_id == first.sandbox_id
        assert again.commands.run("echo same").stdout == "same\n"
        with pytest.raises(Exception, match="different create"):
            Sandbox.create(template=e2b_env.template, timeout=61, idempotency_key=key)
    finally:
        first.kill()
