"""Builders the test suites share instead of copying: a free local port, and rows seeded
through the JSON API (projects, templates, sandboxes) with their status checked."""

from __future__ import annotations

import re
import socket
import time
import uuid
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def suffix() -> str:
    """Six hex digits that keep names made by one test apart from another's."""
    return uuid.uuid4().hex[:6]


def created(response: httpx.Response) -> dict[str, Any]:
    """The body of a 201 Created (fails with the response's text otherwise)."""
    assert response.status_code == 201, response.text
    return response.json()


def make_project(api: httpx.Client, name: str, namespace: str = "") -> dict[str, Any]:
    """A project; its namespace is `mbox-<name as a label>` unless given."""
    namespace = namespace or "mbox-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return created(api.post("/v1/projects", json={"name": name, "defaultNamespace": namespace}))


def make_template(api: httpx.Client, project_id: str, name: str, **fields: Any) -> dict[str, Any]:
    """A template of the project running on the host's /usr (image "host") (`fields`: camelCase)."""
    body = {"projectId": project_id, "name": name, "image": "host", **fields}
    return created(api.post("/v1/templates", json=body))


def template_id(api: httpx.Client, slug: str) -> str:
    """The id of the template with this slug (a built-in one, such as `shell`)."""
    response = api.get("/v1/templates")
    assert response.status_code == 200, response.text
    return next(t["id"] for t in response.json()["items"] if t["slug"] == slug)


def make_sandbox(api: httpx.Client, project_id: str, template_id: str, name: str) -> dict[str, Any]:
    body = {"projectId": project_id, "templateId": template_id, "name": name}
    return created(api.post("/v1/sandboxes", json=body))


def wait_for_status(
    api: httpx.Client, sandbox: dict[str, Any], status: str, timeout: float
) -> dict[str, Any]:
    """The sandbox once it has `status` (polled; fails if it goes elsewhere or times out)."""
    deadline = time.monotonic() + timeout
    while sandbox["status"] != status:
        assert sandbox["status"] == "pending", sandbox
        assert time.monotonic() < deadline, f"sandbox not {status}: {sandbox}"
        time.sleep(0.1)
        sandbox = api.get(f"/v1/sandboxes/{sandbox['id']}").json()
    return sandbox
