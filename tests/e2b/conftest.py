"""E2B's unmodified SDKs (`e2b`, `e2b-code-interpreter`) against a live mbox server: the
shared live server of the client suites, a project of their own, and an API key scoped
to it, configured as an E2B program is, from the environment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mbox import Mbox
from tests.support.live import LiveServer

HOST_TEMPLATE = "e2b-host"  # the host's tools, as the sandbox user: starts in a second


@dataclass(frozen=True)
class E2BProject:
    project_id: str
    api_key: str
    template: str


@pytest.fixture(scope="session")
def admin(live: LiveServer) -> Iterator[Mbox]:
    with Mbox(api_url=live.url, token=live.token) as client:
        yield client


def make_project(admin: Mbox, role: str = "developer") -> E2BProject:
    project = admin.projects.create(f"e2b {uuid.uuid4().hex[:8]}", default_namespace="e2b")
    admin.templates.create("E2B host", slug=HOST_TEMPLATE, image="host", project_id=project.id)
    token = admin.tokens.create(
        f"e2b {project.id[:8]}", role=role, principal=f"e2b-{project.id[:8]}",
        project_ids=[project.id],
    )  # fmt: skip
    return E2BProject(project.id, token.token, HOST_TEMPLATE)


@pytest.fixture(scope="session")
def e2b_project(admin: Mbox) -> E2BProject:
    return make_project(admin)


def built(admin: Mbox, project: E2BProject, template: str) -> None:
    """A built-in template's image built before E2B's SDK asks for it, as E2B's own
    templates are (a first build outlasts the SDK's 60 s request timeout)."""
    with admin.sandboxes.create(template, project=project.project_id, wait_timeout=900):
        pass


@pytest.fixture(scope="session")
def base_built(admin: Mbox, e2b_project: E2BProject) -> None:
    built(admin, e2b_project, "python")


@pytest.fixture(autouse=True)
def e2b_env(live: LiveServer, e2b_project: E2BProject, monkeypatch: pytest.MonkeyPatch):
    """What a user sets to move an E2B program to mbox (docs/e2b.md). Every test here has
    it: without it the SDK would reach for E2B's cloud, and tests stay on this machine."""
    monkeypatch.setenv("E2B_API_KEY", e2b_project.api_key)
    monkeypatch.setenv("E2B_API_URL", live.url)
    monkeypatch.setenv("E2B_SANDBOX_URL", live.url)
    for name in ("E2B_DEBUG", "E2B_DOMAIN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return e2b_project


@pytest.fixture
def sandbox(e2b_env: E2BProject) -> Iterator[Any]:
    """A sandbox of the host template, killed after the test."""
    from e2b import Sandbox

    sb = Sandbox.create(template=e2b_env.template, timeout=120)
    yield sb
    sb.kill()
