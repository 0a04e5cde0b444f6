"""End-to-end fixtures: the real server started by scripts/run, and a Chromium to drive it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, Server, ServerFailed, running_server
from tests.support.builders import make_project, make_sandbox, suffix, template_id, wait_for_status

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# One server for every e2e test, run as a shared deployment would be: with a token. (Two
# Reflex servers cannot run from one checkout at once: they share the .web build.)
TOKEN = "e2e-token-5d1a"
# Who the console acts as once signed in with TOKEN (audit events carry it as principal).
SIGNED_IN = "token:shared"
# A module marked with this gets a server on the Kubernetes runtime (the test cluster)
# instead. pytest tears a session fixture down when its parameter changes, so the shared
# server is stopped first; such modules run last, so that happens once.
ON_KUBERNETES = pytest.mark.parametrize("server", ["kubernetes"], indirect=True)


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, image_cache: Path
) -> Iterator[Server]:
    runtime = getattr(request, "param", "local")
    data_dir = tmp_path_factory.mktemp(f"mbox-data-{runtime}")
    # The session's image cache: a built-in's image (Code Interpreter) is built once a run.
    settings = {"MBOX_API_TOKEN": TOKEN, "MBOX_IMAGE_DIR": str(image_cache)}
    if runtime == "kubernetes":
        settings |= kubernetes_settings(request.getfixturevalue("kube_cluster"), data_dir.parent)
    log = data_dir.parent / f"server-{runtime}.log"
    try:
        with running_server(data_dir, log, settings) as server:
            yield server
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def kubernetes_settings(cluster: Any, directory: Path) -> dict[str, str]:
    kubeconfig = cluster.kubeconfig(directory / "kubeconfig")
    return {
        "MBOX_RUNTIME": "kubernetes",
        "MBOX_KUBECONFIG": str(kubeconfig),
        "MBOX_KUBE_CONTEXT": "mbox-test",
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the Kubernetes server last: the shared server then starts and stops once."""
    items.sort(key=_on_kubernetes_server)  # stable: file order otherwise


def _on_kubernetes_server(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("server") == "kubernetes"


@pytest.fixture(scope="session")
def api(server: Server) -> Iterator[httpx.Client]:
    """The JSON API of the test server, authenticated like an automation client."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


def sign_in(page: Page, token: str) -> None:
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A console page that has signed in (the sign-in test uses a fresh context instead)."""
    page = context.new_page()
    page.goto("/login")
    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()
    return page


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's chromium where present (Playwright cannot download browsers offline)."""
    executable = os.environ.get("MBOX_TEST_CHROMIUM") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    extra = {"executable_path": executable} if executable else {}
    return {**browser_type_launch_args, **extra, "args": CHROMIUM_ARGS}


@pytest.fixture
def sandbox(api: httpx.Client) -> Iterator[dict]:
    """A running sandbox from the built-in Shell template (in a project of its own),
    deleted afterwards."""
    tag = suffix()
    project = make_project(api, f"Lab {tag}", f"mbox-lab-{tag}")
    created = make_sandbox(api, project["id"], template_id(api, "shell"), f"shell-{tag}")
    sandbox = wait_for_status(api, created, "running", LIFECYCLE_TIMEOUT / 1000)
    yield sandbox
    api.delete(f"/v1/sandboxes/{sandbox['id']}")
