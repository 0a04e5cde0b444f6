"""The official `kubernetes` client, configured once, called off the event loop.

The client is synchronous (urllib3): every call runs in a worker thread, and objects
travel as plain JSON dicts (what the API server sent), never as generated model classes.
An API error becomes a `RuntimeFailure` that says what the server answered.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes

from backend.runtime.base import RuntimeFailure
from backend.runtime.kubernetes.manifests import EXTENSIONS_GROUP, SANDBOX_GROUP, VERSION

# plural -> group of the agent-sandbox kinds mbox reads and writes
CUSTOM = {
    "sandboxclaims": EXTENSIONS_GROUP,
    "sandboxtemplates": EXTENSIONS_GROUP,
    "sandboxwarmpools": EXTENSIONS_GROUP,
    "sandboxes": SANDBOX_GROUP,
}


def load_configuration(
    kubeconfig: Path | None, context: str | None
) -> kubernetes.client.Configuration:
    """From the kubeconfig file (and context) when given, else the in-cluster service
    account (the server running as a pod)."""
    configuration = kubernetes.client.Configuration()
    if kubeconfig is not None:
        kubernetes.config.load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    else:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    return configuration


class Cluster:
    """The API groups mbox uses, over one connection pool."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self.configuration = configuration
        self.api_client = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in a worker thread; API errors as RuntimeFailure, a 404 as
        None."""
        return await asyncio.to_thread(functools.partial(self.call_now, fn, *args, **kwargs))

    def call_now(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise _failure(exc) from None
        except (OSError, kubernetes.client.exceptions.OpenApiException) as exc:
            raise RuntimeFailure(f"the Kubernetes API cannot be reached: {exc}") from None

    def plain(self, found: Any) -> Any:
        """A generated model object as the JSON the server sent."""
        return self.api_client.sanitize_for_serialization(found)

    # -- agent-sandbox objects (dicts in, dicts out) -------------------------------------

    async def get(self, plural: str, namespace: str, name: str) -> dict | None:
        group = CUSTOM[plural]
        return await self.call(
            self.custom.get_namespaced_custom_object, group, VERSION, namespace, plural, name
        )

    async def create(self, plural: str, body: dict) -> dict | None:
        """Create; an object that already exists is left as it is (None)."""
        namespace = body["metadata"]["namespace"]
        create = self.custom.create_namespaced_custom_object
        return await self._create(create, CUSTOM[plural], VERSION, namespace, plural, body)

    async def create_core(self, kind: str, body: dict) -> dict | None:
        """Create a core object (`namespace`, `service_account`...), unless it exists."""
        namespace = body["metadata"].get("namespace")
        if namespace:
            create = getattr(self.core, f"create_namespaced_{kind}")
            return await self._create(create, namespace, body)
        return await self._create(getattr(self.core, f"create_{kind}"), body)

    async def _create(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except kubernetes.client.ApiException as exc:
            if exc.status == 409:  # already there: left as it is
                return None
            raise _failure(exc) from None

    async def patch(self, plural: str, namespace: str, name: str, patch: dict) -> dict | None:
        """A JSON merge patch (the client sends a dict body as one)."""
        group = CUSTOM[plural]
        return await self.call(
            self.custom.patch_namespaced_custom_object,
            group,
            VERSION,
            namespace,
            plural,
            name,
            patch,
        )

    async def delete(self, plural: str, namespace: str, name: str) -> None:
        """Delete with its dependents (404: already gone)."""
        group = CUSTOM[plural]
        await self.call(
            self.custom.delete_namespaced_custom_object,
            group,
            VERSION,
            namespace,
            plural,
            name,
            propagation_policy="Background",
        )


def _failure(exc: kubernetes.client.ApiException) -> RuntimeFailure:
    return RuntimeFailure(f"the Kubernetes API answered {exc.status}: {_reason(exc)}")


def _reason(exc: kubernetes.client.ApiException) -> str:
    """The Status message the server sent, else its reason phrase."""
    try:
        return json.loads(exc.body or "{}").get("message") or str(exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)
