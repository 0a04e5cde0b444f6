"""The SDK covers the API, and its two clients are one: every operation of the server's
OpenAPI document has an SDK method (a new route fails here until it has one), the
blocking client has exactly the async one's methods, and it is generated from it."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from mbox import AsyncMbox, AsyncSandbox, Mbox, Sandbox, models

ROOT = Path(__file__).resolve().parents[2]

# (method, path) -> where the SDK offers it: `client.<path>` or, for `sandbox.`, the handle.
OPERATIONS = {
    ("get", "/healthz"): "health",
    ("get", "/v1/info"): "info",
    ("get", "/v1/openapi.json"): "openapi",
    ("get", "/v1/whoami"): "whoami",
    ("get", "/v1/runtime/resources"): "runtime.resources",
    ("get", "/v1/runtime/orphans"): "runtime.orphans",
    ("post", "/v1/runtime/orphans/cleanup"): "runtime.cleanup_orphan",
    ("get", "/v1/images"): "runtime.images",
    ("get", "/v1/audit-events"): "audit.events",
    ("get", "/v1/projects/{projectID}/audit-events"): "projects.audit_events",
    ("get", "/v1/audit-events/verify"): "audit.verify",
    ("get", "/v1/audit-events/export"): "audit.export",
    ("get", "/v1/projects"): "projects.list",
    ("post", "/v1/projects"): "projects.create",
    ("get", "/v1/projects/{projectID}"): "projects.get",
    ("patch", "/v1/projects/{projectID}"): "projects.update",
    ("delete", "/v1/projects/{projectID}"): "projects.delete",
    ("get", "/v1/projects/{projectID}/usage"): "projects.usage",
    ("get", "/v1/projects/{projectID}/artifact-usage"): "projects.artifact_usage",
    ("get", "/v1/projects/{projectID}/policy"): "projects.policy",
    ("put", "/v1/projects/{projectID}/policy"): "projects.set_policy",
    ("post", "/v1/projects/{projectID}/policy/preview"): "projects.preview_policy",
    ("get", "/v1/projects/{projectID}/quota-policy"): "projects.quota_policy",
    ("put", "/v1/projects/{projectID}/quota-policy"): "projects.set_quota_policy",
    ("get", "/v1/projects/{projectID}/credentials"): "credentials.list",
    ("post", "/v1/projects/{projectID}/credentials"): "credentials.create",
    ("get", "/v1/credentials/{credentialID}"): "credentials.get",
    ("delete", "/v1/credentials/{credentialID}"): "credentials.delete",
    ("get", "/v1/templates"): "templates.list",
    ("post", "/v1/templates"): "templates.create",
    ("get", "/v1/templates/{templateID}"): "templates.get",
    ("patch", "/v1/templates/{templateID}"): "templates.update",
    ("delete", "/v1/templates/{templateID}"): "templates.delete",
    ("get", "/v1/templates/{templateID}/boundary"): "templates.boundary",
    ("get", "/v1/templates/{templateID}/build"): "templates.build",
    ("post", "/v1/templates/{templateID}/validation-runs"): "templates.validate",
    ("post", "/v1/templates/{templateID}/validation-runs/{sandboxID}/decision"): (
        "templates.decide"
    ),
    ("get", "/v1/sandboxes"): "sandboxes.list",
    ("post", "/v1/sandboxes"): "sandboxes.create",
    ("get", "/v1/sandboxes/{sandboxID}"): "sandboxes.get",
    ("patch", "/v1/sandboxes/{sandboxID}"): "sandboxes.update",
    ("delete", "/v1/sandboxes/{sandboxID}"): "sandboxes.delete",
    ("post", "/v1/sandboxes/{sandboxID}/start"): "sandboxes.start",
    ("post", "/v1/sandboxes/{sandboxID}/stop"): "sandboxes.stop",
    ("post", "/v1/sandboxes/{sandboxID}/renew"): "sandboxes.renew",
    ("get", "/v1/sandboxes/{sandboxID}/runtime"): "sandboxes.runtime",
    ("get", "/v1/sandboxes/{sandboxID}/logs"): "sandboxes.logs",
    ("get", "/v1/sandboxes/{sandboxID}/events"): "sandboxes.events",
    ("get", "/v1/sandboxes/{sandboxID}/ports"): "sandboxes.ports",
    ("get", "/v1/sandboxes/{sandboxID}/boundary"): "sandboxes.boundary",
    ("get", "/v1/sandboxes/{sandboxID}/metrics"): "sandboxes.metrics",
    ("get", "/v1/sandboxes/{sandboxID}/terminal"): "sandbox.terminal.attach",
    ("get", "/v1/sandboxes/{sandboxID}/files"): "files.list",
    ("delete", "/v1/sandboxes/{sandboxID}/files"): "files.delete",
    ("get", "/v1/sandboxes/{sandboxID}/files/content"): "files.read",
    ("put", "/v1/sandboxes/{sandboxID}/files/content"): "files.write",
    ("get", "/v1/sandboxes/{sandboxID}/files/archive"): "files.archive",
    ("get", "/v1/sandboxes/{sandboxID}/tasks"): "tasks.list",
    ("post", "/v1/sandboxes/{sandboxID}/tasks"): "tasks.create",
    ("get", "/v1/tasks/{taskID}"): "tasks.get",
    ("post", "/v1/tasks/{taskID}/cancel"): "tasks.cancel",
    ("get", "/v1/tasks/{taskID}/events"): "tasks.events",
    ("get", "/v1/tasks/{taskID}/output"): "tasks.output",
    ("post", "/v1/sandboxes/{sandboxID}/code/run"): "code.run",
    ("get", "/v1/sandboxes/{sandboxID}/code/contexts"): "code.contexts",
    ("post", "/v1/sandboxes/{sandboxID}/code/contexts"): "code.create_context",
    ("delete", "/v1/sandboxes/{sandboxID}/code/contexts/{contextID}"): "code.remove_context",
    ("post", "/v1/sandboxes/{sandboxID}/code/contexts/{contextID}/restart"): "code.restart_context",
    ("get", "/v1/tasks/{taskID}/artifacts"): "artifacts.list_for_task",
    ("get", "/v1/sandboxes/{sandboxID}/artifacts"): "artifacts.list",
    ("post", "/v1/sandboxes/{sandboxID}/artifacts"): "artifacts.create",
    ("get", "/v1/artifacts/{artifactID}"): "artifacts.get",
    ("delete", "/v1/artifacts/{artifactID}"): "artifacts.delete",
    ("post", "/v1/artifacts/{artifactID}/capture"): "artifacts.capture",
    ("put", "/v1/artifacts/{artifactID}/content"): "artifacts.upload",
    ("get", "/v1/artifacts/{artifactID}/content"): "artifacts.download",
    ("get", "/v1/sandboxes/{sandboxID}/sessions"): "sessions.list",
    ("post", "/v1/sandboxes/{sandboxID}/sessions"): "sessions.create",
    ("get", "/v1/sessions/{sessionID}"): "sessions.get",
    ("post", "/v1/sessions/{sessionID}/end"): "sessions.end",
    ("get", "/v1/sessions/{sessionID}/recording"): "sessions.recording",
    ("post", "/v1/sandboxes/{sandboxID}/preview-links"): "previews.create_link",
    ("get", "/v1/sandboxes/{sandboxID}/preview-links"): "previews.links",
    ("post", "/v1/preview-links/{linkID}/revoke"): "previews.revoke_link",
    ("get", "/v1/tokens"): "tokens.list",
    ("post", "/v1/tokens"): "tokens.create",
    ("get", "/v1/tokens/{tokenID}"): "tokens.get",
    ("delete", "/v1/tokens/{tokenID}"): "tokens.revoke",
}
PROXY = "/v1/sandboxes/{sandboxID}/ports/{port}/proxy"  # every method: previews.fetch
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def server_operations() -> set[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(
        "generate_sdk_models", ROOT / "scripts" / "generate_sdk_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document = module.openapi_document()
    return {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS and not path.startswith(PROXY)
    }


def resolve(client_class: type, handle_class: type, target: str):
    client = client_class(api_url="http://127.0.0.1:9", token="t")  # never contacted
    info = models.Sandbox.from_json(
        {"id": "s", "projectId": "p", "name": "n", "slug": "n", "status": "running"}
        | {"namespace": "ns", "serviceAccountName": "sa"}
        | {"createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}
    )
    owner: object = client
    if target.startswith("sandbox."):
        owner, target = handle_class(client, info), target.removeprefix("sandbox.")
    for part in target.split("."):
        owner = getattr(owner, part)
    return owner


def test_every_server_operation_has_an_sdk_method() -> None:
    served = server_operations()
    missing = sorted(served - set(OPERATIONS))
    assert not missing, f"operations without an SDK method (add them, then map them): {missing}"
    gone = sorted(set(OPERATIONS) - served)
    assert not gone, f"SDK methods for operations the server no longer has: {gone}"


@pytest.mark.parametrize("target", sorted(set(OPERATIONS.values()) | {"previews.fetch"}))
def test_both_clients_offer_it_with_the_same_signature(target: str) -> None:
    blocking = resolve(Mbox, Sandbox, target)
    awaited = resolve(AsyncMbox, AsyncSandbox, target)
    assert callable(blocking) and callable(awaited)
    assert parameters(blocking) == parameters(awaited)
    is_async = inspect.iscoroutinefunction(awaited) or inspect.isasyncgenfunction(awaited)
    assert is_async or target == "sandbox.terminal.attach"


def parameters(function) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults (annotations differ: Iterator / AsyncIterator...)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, callable) if not name.startswith("_")}


def test_namespaces_and_handles_have_identical_method_names() -> None:
    sync_client = Mbox(api_url="http://127.0.0.1:9")
    async_client = AsyncMbox(api_url="http://127.0.0.1:9")
    names = [name for name, value in vars(sync_client).items() if hasattr(value, "_http")]
    assert len(names) >= 12
    for name in names:
        sync_names = public_methods(type(getattr(sync_client, name)))
        async_names = public_methods(type(getattr(async_client, name)))
        assert sync_names == async_names, name
    assert public_methods(Mbox) - {"close"} == public_methods(AsyncMbox) - {"aclose"}
    assert public_methods(Sandbox) == public_methods(AsyncSandbox)


def test_the_blocking_client_is_generated_from_the_async_one() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_sync_client", ROOT / "scripts" / "generate_sync_client.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = module.stale()
    assert not stale, (
        f"mbox/_sync is stale ({stale}): run .venv/bin/python scripts/generate_sync_client.py"
    )
