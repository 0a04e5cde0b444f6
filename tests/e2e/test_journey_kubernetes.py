"""The console's journey on the Kubernetes runtime, in Chromium against the real server
(MBOX_RUNTIME=kubernetes) and the test cluster (tests/support/kube: the agent-sandbox
controller simulator and a kubelet that runs pods as local sandboxes): create a project and
a template, launch, run a task, type in the terminal, open a preview of a server started
there, browse files, read logs and events, stop, start and delete. The local runtime's
journey is test_journey.py; this one checks that the console needs nothing of the local
runtime's."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ON_KUBERNETES, TOKEN, sign_in
from tests.e2e.harness import LIFECYCLE_TIMEOUT, Server, screenshot
from tests.e2e.test_journey import create_project, create_template, launch, open_tab, run_task
from tests.e2e.test_sandbox_terminal import connection, screen, type_line

pytestmark = [pytest.mark.e2e, ON_KUBERNETES]

IMAGE = "python:3.12-slim"  # recorded in the pod; the test kubelet runs the host's tools
TERMINAL_TIMEOUT = 10_000


def cluster_objects(cluster: Any, kind: str, namespace: str) -> list[dict]:
    return cluster.call(lambda store: store.list(store.resource(kind), namespace)[0])


def gone(listed: Callable[[], list], timeout: float = LIFECYCLE_TIMEOUT / 1000) -> bool:
    """Whether `listed` comes back empty within `timeout` s (the reconciler deletes)."""
    deadline = time.monotonic() + timeout
    while listed():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def open_preview(page: Page, name: str) -> Page:
    """Open the declared port `name` (the Python preset declares http 8000) from the
    Preview tab in a new window."""
    open_tab(page, "Preview")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name=f"Open {name}").click()
    return opened.value


def test_journey_on_kubernetes(
    browser: Browser,
    server: Server,
    api: httpx.Client,
    kube_cluster: Any,
    pytestconfig: pytest.Config,
) -> None:
    info = api.get("/v1/info").json()
    assert info["runtimeController"]["adapter"] == "agent-sandbox", info["runtimeController"]
    suffix = uuid.uuid4().hex[:4]
    project, template, name = f"Kube {suffix}", f"Kube Python {suffix}", f"kube-{suffix}"
    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
    page.goto("/projects")
    sign_in(page, TOKEN)

    create_project(page, project)
    create_template(page, project, template, image=IMAGE)
    expect(page.get_by_role("article", name=template)).to_contain_text(IMAGE)
    launch(page, project, template, name)
    status = page.get_by_role("group", name="Sandbox status")
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)
    expect(page.get_by_role("group", name="Sandbox summary")).to_contain_text("agent-sandbox")
    screenshot(page, pytestconfig, "kubernetes-sandbox.png")

    # It runs as a claim in the cluster, its pod with the template's image.
    sandbox_id = page.url.split("?", 1)[0].rsplit("/", 1)[1]  # the tab is a parameter
    ref = api.get(f"/v1/sandboxes/{sandbox_id}").json()["runtimeRef"]
    namespace = ref["namespace"]
    assert ref["kind"] == "SandboxClaim" and namespace == f"mbox-kube-{suffix}"
    claims = cluster_objects(kube_cluster, "SandboxClaim", namespace)
    assert [c["metadata"]["name"] for c in claims] == [ref["name"]]
    pods = cluster_objects(kube_cluster, "Pod", namespace)
    assert [c["image"] for p in pods for c in p["spec"]["containers"]] == [IMAGE]

    # A task writes the page the preview serves.
    open_tab(page, "Tasks")
    panel = run_task(
        page,
        "mkdir -p site && echo '<h1>served-from-kube</h1>' > site/index.html; echo task-$((6*7))",
    )
    expect(panel.get_by_role("log", name="Standard output")).to_contain_text("task-42")
    expect(panel.get_by_role("group", name="Task status")).to_contain_text(
        "Succeeded", timeout=LIFECYCLE_TIMEOUT
    )

    # The terminal echoes, then serves the page.
    open_tab(page, "Terminal")
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    type_line(page, "echo term-$((3*5))")
    expect(screen(page)).to_contain_text("term-15", timeout=TERMINAL_TIMEOUT)
    type_line(page, "python3 -m http.server 8000 --directory site")
    expect(screen(page)).to_contain_text("Serving HTTP", timeout=TERMINAL_TIMEOUT)

    # The preview, through the API server's port-forward to the pod.
    preview = open_preview(page, "http")
    expect(preview.get_by_role("heading", name="served-from-kube")).to_be_visible(
        timeout=LIFECYCLE_TIMEOUT
    )
    preview.close()

    # Files, read through exec in the pod.
    open_tab(page, "Files")
    listing = page.get_by_role("table", name="Files")
    listing.get_by_role("button", name="Open folder site").click()
    row = listing.get_by_role("row", name=re.compile("index.html"))
    row.get_by_role("button", name="View index.html").click()
    viewer = page.get_by_role("region", name="File index.html")
    expect(viewer.get_by_role("log", name="File content")).to_contain_text("served-from-kube")
    viewer.get_by_role("button", name="Close").click()

    # The pod's log (the preset's startup command) and the kubelet's events.
    open_tab(page, "Logs")
    expect(page.get_by_role("log", name="Sandbox log")).to_contain_text("mbox python sandbox ready")
    open_tab(page, "Events")
    events = page.get_by_role("table", name="Runtime events")
    expect(events.get_by_role("row", name=re.compile("Pulled"))).to_contain_text(IMAGE)
    expect(events.get_by_role("row", name=re.compile("Started"))).to_be_visible()
    screenshot(page, pytestconfig, "kubernetes-events.png")

    # Stop, start, delete: the claim goes with the sandbox.
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stop sandbox").click()
    expect(status).to_contain_text("Stopped", timeout=LIFECYCLE_TIMEOUT)
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("Running", timeout=LIFECYCLE_TIMEOUT)

    # The Runtime page shows the claim, its pod observed running, and its template's pool.
    page.goto(f"/runtime?namespace={namespace}")
    expect(page.get_by_text("Kubernetes (agent-sandbox)")).to_be_visible()
    resources = page.get_by_role("table", name="Runtime resources")
    claim_row = resources.get_by_role("row").filter(has_text=ref["name"])
    expect(claim_row).to_contain_text("SandboxClaim")
    expect(claim_row).to_contain_text("Running")
    expect(resources.get_by_role("row").filter(has_text="SandboxWarmPool")).to_have_count(1)
    screenshot(page, pytestconfig, "kubernetes-runtime.png")
    page.goto(f"/sandboxes/{sandbox_id}")

    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete sandbox").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted sandbox {name}.")
    assert api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404
    assert gone(lambda: cluster_objects(kube_cluster, "SandboxClaim", namespace))
    page.close()
