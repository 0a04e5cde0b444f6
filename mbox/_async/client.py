"""`AsyncMbox`: every /v1 operation, grouped by what it acts on, with typed results.

The blocking `Mbox` in `mbox/_sync/client.py` is generated from this file: same names,
same arguments, same results.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import httpx

from mbox import models
from mbox._async.code import Code
from mbox._async.sandbox import AsyncSandbox, Progress
from mbox._async.tasks import Tasks
from mbox._async.transport import Transport
from mbox.compat import CLIENT_API_VERSION, Compatibility, check_compatibility
from mbox.config import ClientConfig
from mbox.errors import CompatibilityError, DigestMismatchError, MboxError, NotFoundError

DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds, one HTTP request
DEFAULT_WAIT_TIMEOUT = 300.0  # seconds, waiting for a sandbox to reach a state


def new_key() -> str:
    """A fresh idempotency key: a retried create is recognised, not repeated."""
    return uuid.uuid4().hex


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields given (None = not sent)."""
    return {name: value for name, value in fields.items() if value is not None}


def _items(model: Any, body: Mapping[str, Any]) -> list[Any]:
    return [model.from_json(item) for item in body.get("items", [])]


class Namespace:
    def __init__(self, client: AsyncMbox) -> None:
        self._client = client
        self._http = client.transport

    def _create_headers(self, idempotency_key: str | None) -> dict[str, str]:
        return {"Idempotency-Key": idempotency_key or new_key()}


class Projects(Namespace):
    async def list(self, *, limit: int | None = None) -> list[models.Project]:
        body = await self._http.json("GET", "/v1/projects", params={"limit": limit})
        return _items(models.Project, body)

    async def get(self, project_id: str) -> models.Project:
        return models.Project.from_json(await self._http.json("GET", f"/v1/projects/{project_id}"))

    async def create(
        self,
        name: str,
        *,
        default_namespace: str | None = None,
        slug: str | None = None,
        repository_url: str | None = None,
        artifact_retention_days: int | None = None,
        metadata: Any = None,
        idempotency_key: str | None = None,
    ) -> models.Project:
        payload = _body(
            name=name,
            defaultNamespace=default_namespace,
            slug=slug,
            repositoryUrl=repository_url,
            artifactRetentionDays=artifact_retention_days,
            metadata=metadata,
        )
        headers = self._create_headers(idempotency_key)
        body = await self._http.json("POST", "/v1/projects", json=payload, headers=headers)
        return models.Project.from_json(body)

    async def update(self, project_id: str, **changes: Any) -> models.Project:
        """Fields in the API's camelCase or snake_case: name, repository_url,
        default_namespace, default_template_id (None clears it), artifact_retention_days,
        metadata."""
        body = await self._http.json(
            "PATCH", f"/v1/projects/{project_id}", json=camel_case(changes)
        )
        return models.Project.from_json(body)

    async def delete(self, project_id: str) -> None:
        await self._http.send("DELETE", f"/v1/projects/{project_id}")

    async def usage(self, project_id: str) -> models.ProjectUsage:
        body = await self._http.json("GET", f"/v1/projects/{project_id}/usage")
        return models.ProjectUsage.from_json(body)

    async def artifact_usage(self, project_id: str) -> models.ArtifactUsage:
        body = await self._http.json("GET", f"/v1/projects/{project_id}/artifact-usage")
        return models.ArtifactUsage.from_json(body)

    async def policy(self, project_id: str) -> models.ProjectPolicy:
        body = await self._http.json("GET", f"/v1/projects/{project_id}/policy")
        return models.ProjectPolicy.from_json(body)

    async def set_policy(
        self,
        project_id: str,
        *,
        enforcement: str,
        allowed_image_prefixes: Iterable[str] = (),
        allowed_service_accounts: Iterable[str] = (),
        allowed_secret_refs: Iterable[str] = (),
    ) -> models.ProjectPolicy:
        payload = {
            "enforcement": enforcement,
            "allowedImagePrefixes": list(allowed_image_prefixes),
            "allowedServiceAccounts": list(allowed_service_accounts),
            "allowedSecretRefs": list(allowed_secret_refs),
        }
        body = await self._http.json("PUT", f"/v1/projects/{project_id}/policy", json=payload)
        return models.ProjectPolicy.from_json(body)

    async def preview_policy(
        self, project_id: str, policy: Mapping[str, Any]
    ) -> models.PolicyPreview:
        """What a policy (camelCase fields, as for set_policy) would refuse, before saving."""
        body = await self._http.json(
            "POST", f"/v1/projects/{project_id}/policy/preview", json=camel_case(policy)
        )
        return models.PolicyPreview.from_json(body)

    async def quota_policy(self, project_id: str) -> models.ProjectQuotaPolicy:
        body = await self._http.json("GET", f"/v1/projects/{project_id}/quota-policy")
        return models.ProjectQuotaPolicy.from_json(body)

    async def set_quota_policy(
        self, project_id: str, *, enforcement: str, **limits: Any
    ) -> models.ProjectQuotaPolicy:
        """`limits`: max_active_sandboxes, max_running_sandboxes, max_cpu, max_memory,
        max_tasks_in_progress, max_live_terminals, max_retained_artifact_bytes."""
        payload = {"enforcement": enforcement, **camel_case(limits)}
        body = await self._http.json("PUT", f"/v1/projects/{project_id}/quota-policy", json=payload)
        return models.ProjectQuotaPolicy.from_json(body)

    async def audit_events(self, project_id: str, **filters: Any) -> list[models.AuditEvent]:
        """One page of the project's audit feed; filters as `Audit.events`."""
        return await self._client.audit.events(project_id=project_id, **filters)


class Credentials(Namespace):
    async def list(
        self, project_id: str, *, limit: int | None = None
    ) -> list[models.ProjectCredential]:
        body = await self._http.json(
            "GET", f"/v1/projects/{project_id}/credentials", params={"limit": limit}
        )
        return _items(models.ProjectCredential, body)

    async def create(
        self,
        project_id: str,
        *,
        name: str,
        type: str,
        secret_ref: Mapping[str, Any],
        slug: str | None = None,
        target: str | None = None,
        usage: Iterable[str] | None = None,
        metadata: Any = None,
        idempotency_key: str | None = None,
    ) -> models.ProjectCredential:
        """`secret_ref`: {"name": secret name, "key": optional key} (a reference, never a value)."""
        payload = _body(
            name=name,
            type=type,
            secretRef=dict(secret_ref),
            slug=slug,
            target=target,
            usage=list(usage) if usage is not None else None,
            metadata=metadata,
        )
        body = await self._http.json(
            "POST",
            f"/v1/projects/{project_id}/credentials",
            json=payload,
            headers=self._create_headers(idempotency_key),
        )
        return models.ProjectCredential.from_json(body)

    async def get(self, credential_id: str) -> models.ProjectCredential:
        body = await self._http.json("GET", f"/v1/credentials/{credential_id}")
        return models.ProjectCredential.from_json(body)

    async def delete(self, credential_id: str) -> None:
        await self._http.send("DELETE", f"/v1/credentials/{credential_id}")


class Templates(Namespace):
    async def list(
        self, *, project_id: str | None = None, limit: int | None = None
    ) -> list[models.EnvironmentTemplate]:
        params = {"projectId": project_id, "limit": limit}
        body = await self._http.json("GET", "/v1/templates", params=params)
        return _items(models.EnvironmentTemplate, body)

    async def get(self, template_id: str) -> models.EnvironmentTemplate:
        body = await self._http.json("GET", f"/v1/templates/{template_id}")
        return models.EnvironmentTemplate.from_json(body)

    async def find(self, ref: str, *, project_id: str | None = None) -> models.EnvironmentTemplate:
        """A template by id or slug (the project's own before shared ones)."""
        if _is_uuid(ref):
            return await self.get(ref)
        found = [t for t in await self.list(project_id=project_id, limit=500) if t.slug == ref]
        found.sort(key=lambda t: t.project_id is None)  # the project's own first
        if not found:
            raise NotFoundError(404, f"no template with id or slug {ref!r}")
        return found[0]

    async def create(
        self, name: str, *, image: str, idempotency_key: str | None = None, **fields: Any
    ) -> models.EnvironmentTemplate:
        """`fields`: any TemplateCreate field, snake_case or camelCase (project_id,
        startup_command, working_dir, cpu_request, memory_request, exposed_ports, env,
        runtime_class_name, image_pull_policy ("Always", "IfNotPresent", "Never" or ""),
        build (a recipe: {"base": "debian:bookworm", "packages": [...], "files": [...],
        "user": "user"}), ...)."""
        payload = {"name": name, "image": image, **camel_case(fields)}
        body = await self._http.json(
            "POST", "/v1/templates", json=payload, headers=self._create_headers(idempotency_key)
        )
        return models.EnvironmentTemplate.from_json(body)

    async def update(self, template_id: str, **changes: Any) -> models.EnvironmentTemplate:
        """`changes`: the fields to replace, as for `create` (image_pull_policy, build: {}
        removes the recipe, ...)."""
        body = await self._http.json(
            "PATCH", f"/v1/templates/{template_id}", json=camel_case(changes)
        )
        return models.EnvironmentTemplate.from_json(body)

    async def build(self, template_id: str) -> models.TemplateBuild:
        """Where the template's build recipe stands on the runtime (built, building, failed,
        not-built, unsupported, or none without a recipe), with the build's log."""
        body = await self._http.json("GET", f"/v1/templates/{template_id}/build")
        return models.TemplateBuild.from_json(body)

    async def delete(self, template_id: str) -> None:
        await self._http.send("DELETE", f"/v1/templates/{template_id}")

    async def boundary(
        self, template_id: str, *, project_id: str | None = None
    ) -> models.BoundarySummary:
        body = await self._http.json(
            "GET", f"/v1/templates/{template_id}/boundary", params={"projectId": project_id}
        )
        return models.BoundarySummary.from_json(body)

    async def validate(
        self,
        template_id: str,
        *,
        project_id: str | None = None,
        name: str | None = None,
        metadata: Any = None,
        idempotency_key: str | None = None,
    ) -> models.TemplateValidationRun:
        """Launch a validation sandbox from the template."""
        body = await self._http.json(
            "POST",
            f"/v1/templates/{template_id}/validation-runs",
            json=_body(projectId=project_id, name=name, metadata=metadata),
            headers=self._create_headers(idempotency_key),
        )
        return models.TemplateValidationRun.from_json(body)

    async def decide(
        self, template_id: str, sandbox_id: str, status: str
    ) -> models.TemplateValidationRun:
        """Record a validation run as `passed` or `failed`."""
        body = await self._http.json(
            "POST",
            f"/v1/templates/{template_id}/validation-runs/{sandbox_id}/decision",
            json={"status": status},
        )
        return models.TemplateValidationRun.from_json(body)


class Sandboxes(Namespace):
    async def list(
        self, *, project_id: str | None = None, limit: int | None = None
    ) -> list[AsyncSandbox]:
        params = {"projectId": project_id, "limit": limit}
        body = await self._http.json("GET", "/v1/sandboxes", params=params)
        return [AsyncSandbox(self._client, info) for info in _items(models.Sandbox, body)]

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        return AsyncSandbox(self._client, await self.info(sandbox_id))

    async def info(
        self, sandbox_id: str, *, wait: float | None = None, after: str | None = None
    ) -> models.Sandbox:
        """The sandbox record; with `wait` and `after` (an earlier `updated_at`), the server
        answers as soon as it changes (or after `wait` seconds)."""
        params = {"wait": wait, "after": after} if wait and after else None
        timeout = self._http.request_timeout + (wait or 0)
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}", params=params, timeout=timeout
        )
        return models.Sandbox.from_json(body)

    async def create(
        self,
        template: str | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        slug: str | None = None,
        namespace: str | None = None,
        service_account: str | None = None,
        metadata: Any = None,
        wait: bool = True,
        wait_timeout: float | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
        keep: bool = False,
        idempotency_key: str | None = None,
    ) -> AsyncSandbox:
        """Launch a sandbox from `template` (id or slug) in `project` (id or slug; the only
        project the token sees when omitted) and, with `wait`, return once it runs,
        calling `on_progress` at every phase. Used as a context manager the sandbox is
        deleted on exit unless `keep`."""
        project_id = await self._client.resolve_project(project)
        template_id = None
        if template:
            template_id = (await self._client.templates.find(template, project_id=project_id)).id
        key = idempotency_key or new_key()
        payload = _body(
            projectId=project_id,
            templateId=template_id,
            name=name or f"sdk-{hashlib.sha256(key.encode()).hexdigest()[:8]}",
            slug=slug,
            namespace=namespace,
            serviceAccountName=service_account,
            metadata=metadata,
        )
        body = await self._http.json(
            "POST", "/v1/sandboxes", json=payload, headers=self._create_headers(key)
        )
        sandbox = AsyncSandbox(self._client, models.Sandbox.from_json(body), keep=keep)
        if on_progress is not None:
            on_progress(Progress.of(sandbox.info))
        if wait:
            await sandbox.wait_until("running", timeout=wait_timeout, on_progress=on_progress)
        return sandbox

    async def wait(
        self,
        sandbox_id: str,
        status: str = "running",
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
    ) -> AsyncSandbox:
        sandbox = await self.get(sandbox_id)
        await sandbox.wait_until(status, timeout=timeout, on_progress=on_progress)
        return sandbox

    async def update(self, sandbox_id: str, **changes: Any) -> models.Sandbox:
        body = await self._http.json(
            "PATCH", f"/v1/sandboxes/{sandbox_id}", json=camel_case(changes)
        )
        return models.Sandbox.from_json(body)

    async def delete(self, sandbox_id: str) -> None:
        await self._http.send("DELETE", f"/v1/sandboxes/{sandbox_id}")

    async def start(self, sandbox_id: str) -> models.Sandbox:
        body = await self._http.json("POST", f"/v1/sandboxes/{sandbox_id}/start")
        return models.Sandbox.from_json(body)

    async def stop(self, sandbox_id: str) -> models.Sandbox:
        body = await self._http.json("POST", f"/v1/sandboxes/{sandbox_id}/stop")
        return models.Sandbox.from_json(body)

    async def renew(self, sandbox_id: str, *, ttl_seconds: int | None = None) -> models.Sandbox:
        body = await self._http.json(
            "POST", f"/v1/sandboxes/{sandbox_id}/renew", json=_body(ttlSeconds=ttl_seconds)
        )
        return models.Sandbox.from_json(body)

    async def boundary(self, sandbox_id: str) -> models.BoundarySummary:
        body = await self._http.json("GET", f"/v1/sandboxes/{sandbox_id}/boundary")
        return models.BoundarySummary.from_json(body)

    async def metrics(self, sandbox_id: str, *, window: int | None = None) -> models.SandboxMetrics:
        """Live resource use (CPU, memory, disk, processes, network) over the last
        `window` seconds (server default 300), oldest sample first."""
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/metrics", params={"window": window}
        )
        return models.SandboxMetrics.from_json(body)

    async def runtime(self, sandbox_id: str) -> models.RuntimeTarget:
        body = await self._http.json("GET", f"/v1/sandboxes/{sandbox_id}/runtime")
        return models.RuntimeTarget.from_json(body)

    async def logs(self, sandbox_id: str, *, tail_lines: int | None = None) -> models.LogResult:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/logs", params={"tailLines": tail_lines}
        )
        return models.LogResult.from_json(body)

    async def events(
        self, sandbox_id: str, *, limit: int | None = None
    ) -> list[models.RuntimeEvent]:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/events", params={"limit": limit}
        )
        return _items(models.RuntimeEvent, body)

    async def ports(self, sandbox_id: str) -> models.PreviewPortsResult:
        body = await self._http.json("GET", f"/v1/sandboxes/{sandbox_id}/ports")
        return models.PreviewPortsResult.from_json(body)


class Files(Namespace):
    """A sandbox's workspace files (paths relative to the workspace; nothing outside it)."""

    async def list(
        self, sandbox_id: str, path: str = "", *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/files", params={"path": path, "limit": limit}
        )
        return list(body.get("items", []))

    async def read(self, sandbox_id: str, path: str) -> bytes:
        response = await self._http.send(
            "GET", f"/v1/sandboxes/{sandbox_id}/files/content", params={"path": path}
        )
        return response.content

    async def write(self, sandbox_id: str, path: str, data: bytes | str | Any) -> None:
        """`data`: bytes, text (UTF-8), or an iterable/async iterable of bytes (streamed)."""
        content = data.encode() if isinstance(data, str) else data
        await self._http.send(
            "PUT",
            f"/v1/sandboxes/{sandbox_id}/files/content",
            params={"path": path},
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )

    async def delete(self, sandbox_id: str, path: str) -> None:
        await self._http.send("DELETE", f"/v1/sandboxes/{sandbox_id}/files", params={"path": path})

    async def iter_archive(self, sandbox_id: str, path: str = "") -> AsyncIterator[bytes]:
        """A workspace directory ("" is the workspace) as tar.gz bytes as they arrive:
        symlinks stored as links, never followed; the server cuts an archive off past
        1 GiB (the stream then fails rather than ending)."""
        async with self._http.stream(
            "GET", f"/v1/sandboxes/{sandbox_id}/files/archive", params={"path": path}
        ) as response:
            async for chunk in response.aiter_bytes():
                yield chunk

    async def archive(
        self, sandbox_id: str, path: str = "", destination: str | os.PathLike | None = None
    ) -> bytes | None:
        """The directory's tar.gz (no destination), or written to `destination` (only
        once it arrived whole)."""
        return await _saved(self.iter_archive(sandbox_id, path), destination)


class Artifacts(Namespace):
    async def list(self, sandbox_id: str, *, limit: int | None = None) -> list[models.Artifact]:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/artifacts", params={"limit": limit}
        )
        return _items(models.Artifact, body)

    async def list_for_task(
        self, task_id: str, *, limit: int | None = None
    ) -> list[models.Artifact]:
        body = await self._http.json(
            "GET", f"/v1/tasks/{task_id}/artifacts", params={"limit": limit}
        )
        return _items(models.Artifact, body)

    async def get(self, artifact_id: str) -> models.Artifact:
        return models.Artifact.from_json(
            await self._http.json("GET", f"/v1/artifacts/{artifact_id}")
        )

    async def create(
        self,
        sandbox_id: str,
        *,
        name: str,
        uri: str,
        kind: str = "file",
        task_id: str | None = None,
        content_type: str | None = None,
        size_bytes: int | None = None,
        metadata: Any = None,
        idempotency_key: str | None = None,
    ) -> models.Artifact:
        """Register an artifact: `uri` is `workspace://<path>` for a workspace file, or
        any URI for an external object."""
        payload = _body(
            kind=kind,
            name=name,
            uri=uri,
            taskId=task_id,
            contentType=content_type,
            sizeBytes=size_bytes,
            metadata=metadata,
        )
        body = await self._http.json(
            "POST",
            f"/v1/sandboxes/{sandbox_id}/artifacts",
            json=payload,
            headers=self._create_headers(idempotency_key),
        )
        return models.Artifact.from_json(body)

    async def capture(self, artifact_id: str) -> models.Artifact:
        """Retain the workspace file's bytes now (they outlive the sandbox)."""
        body = await self._http.json("POST", f"/v1/artifacts/{artifact_id}/capture")
        return models.Artifact.from_json(body)

    async def upload(
        self, artifact_id: str, data: bytes | Any, *, content_type: str = "application/octet-stream"
    ) -> models.Artifact:
        """Retain `data` (bytes, or an iterable of bytes, streamed) as the artifact's content."""
        body = await self._http.json(
            "PUT",
            f"/v1/artifacts/{artifact_id}/content",
            content=data,
            headers={"Content-Type": content_type},
        )
        return models.Artifact.from_json(body)

    async def iter_content(self, artifact_id: str, *, verify: bool = True) -> AsyncIterator[bytes]:
        """The artifact's bytes as they arrive; with `verify`, a DigestMismatchError at the
        end when they do not hash to the sha256 the server recorded."""
        async with self._http.stream("GET", f"/v1/artifacts/{artifact_id}/content") as response:
            expected = response.headers.get("X-Mbox-Artifact-SHA256")
            digest = hashlib.sha256()
            async for chunk in response.aiter_bytes():
                digest.update(chunk)
                yield chunk
            if verify and expected and digest.hexdigest() != expected:
                raise DigestMismatchError(
                    f"artifact {artifact_id}: got sha256 {digest.hexdigest()}, "
                    f"the server recorded {expected}"
                )

    async def download(
        self, artifact_id: str, destination: str | os.PathLike | None = None, *, verify: bool = True
    ) -> bytes | None:
        """The bytes (no destination) or write them to `destination`, checked against the
        recorded digest; a file that fails the check is removed."""
        return await _saved(self.iter_content(artifact_id, verify=verify), destination)

    async def delete(self, artifact_id: str) -> None:
        await self._http.send("DELETE", f"/v1/artifacts/{artifact_id}")


class Sessions(Namespace):
    async def list(
        self, sandbox_id: str, *, limit: int | None = None
    ) -> list[models.RuntimeSession]:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/sessions", params={"limit": limit}
        )
        return _items(models.RuntimeSession, body)

    async def create(
        self,
        sandbox_id: str,
        *,
        type: str = "api",
        client: str = "mbox-sdk",
        metadata: Any = None,
        idempotency_key: str | None = None,
    ) -> models.RuntimeSession:
        body = await self._http.json(
            "POST",
            f"/v1/sandboxes/{sandbox_id}/sessions",
            json=_body(type=type, client=client, metadata=metadata),
            headers=self._create_headers(idempotency_key),
        )
        return models.RuntimeSession.from_json(body)

    async def get(self, session_id: str) -> models.RuntimeSession:
        return models.RuntimeSession.from_json(
            await self._http.json("GET", f"/v1/sessions/{session_id}")
        )

    async def end(self, session_id: str) -> models.RuntimeSession:
        body = await self._http.json("POST", f"/v1/sessions/{session_id}/end")
        return models.RuntimeSession.from_json(body)

    async def recording(self, session_id: str) -> bytes:
        """A terminal session's recording (asciicast v2)."""
        response = await self._http.send("GET", f"/v1/sessions/{session_id}/recording")
        return response.content


class Previews(Namespace):
    async def ports(self, sandbox_id: str) -> models.PreviewPortsResult:
        return await self._client.sandboxes.ports(sandbox_id)

    async def create_link(
        self,
        sandbox_id: str,
        port: int,
        *,
        label: str | None = None,
        expires_in_seconds: int | None = None,
    ) -> models.PreviewLink:
        """A share link: anyone holding its URL may open the port's preview until it
        expires. Not retried: its secret is shown once and never kept, not even for an
        idempotent replay."""
        body = await self._http.json(
            "POST",
            f"/v1/sandboxes/{sandbox_id}/preview-links",
            json=_body(port=port, label=label, expiresInSeconds=expires_in_seconds),
        )
        return models.PreviewLink.from_json(body)

    async def links(self, sandbox_id: str, *, limit: int | None = None) -> list[models.PreviewLink]:
        body = await self._http.json(
            "GET", f"/v1/sandboxes/{sandbox_id}/preview-links", params={"limit": limit}
        )
        return _items(models.PreviewLink, body)

    async def revoke_link(self, link_id: str) -> models.PreviewLink:
        body = await self._http.json("POST", f"/v1/preview-links/{link_id}/revoke")
        return models.PreviewLink.from_json(body)

    async def fetch(
        self, sandbox_id: str, port: int, path: str = "", *, method: str = "GET", **options: Any
    ) -> httpx.Response:
        """A request to the sandbox's port through the API's authenticated proxy."""
        return await self._http.send(
            method, f"/v1/sandboxes/{sandbox_id}/ports/{port}/proxy/{path.lstrip('/')}", **options
        )


class Runtime(Namespace):
    async def resources(
        self, *, namespace: str | None = None, kind: str | None = None
    ) -> models.RuntimeResourceList:
        body = await self._http.json(
            "GET", "/v1/runtime/resources", params={"namespace": namespace, "kind": kind}
        )
        return models.RuntimeResourceList.from_json(body)

    async def orphans(
        self, *, namespace: str | None = None, kind: str | None = None
    ) -> models.RuntimeOrphanAudit:
        body = await self._http.json(
            "GET", "/v1/runtime/orphans", params={"namespace": namespace, "kind": kind}
        )
        return models.RuntimeOrphanAudit.from_json(body)

    async def cleanup_orphan(
        self,
        *,
        kind: str,
        namespace: str,
        name: str,
        reason: str,
        adapter: str = "agent-sandbox",
        api_version: str | None = None,
    ) -> models.RuntimeOrphanCleanupResult:
        payload = {
            "resource": _body(
                adapter=adapter, kind=kind, namespace=namespace, name=name, apiVersion=api_version
            ),
            "reason": reason,
            "deleteOrphan": True,
            "confirm": "delete-orphan-runtime-resource",
        }
        body = await self._http.json("POST", "/v1/runtime/orphans/cleanup", json=payload)
        return models.RuntimeOrphanCleanupResult.from_json(body)

    async def images(self) -> models.CachedImageList:
        """The images the runtime keeps on its host, most recently used first (a cluster's
        runtime answers `kept` false and no items: its nodes keep the images)."""
        body = await self._http.json("GET", "/v1/images")
        return models.CachedImageList.from_json(body)


AUDIT_FILTERS = (
    "project_id",
    "action",
    "resource_type",
    "resource_id",
    "actor",
    "source",
    "request_id",
    "operation",
    "since",
    "until",
    "limit",
)


class Audit(Namespace):
    def _params(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(filters) - set(AUDIT_FILTERS) - {"cursor"}
        if unknown:
            raise TypeError(f"unknown audit filters: {', '.join(sorted(unknown))}")
        return camel_case(filters)

    def _path(self, filters: dict[str, Any]) -> str:
        project_id = filters.pop("projectId", None)
        return f"/v1/projects/{project_id}/audit-events" if project_id else "/v1/audit-events"

    async def page(self, **filters: Any) -> tuple[list[models.AuditEvent], str | None]:
        """One page and the cursor of the next (None at the end). Filters: project_id,
        action, resource_type, resource_id, actor, source, request_id, operation, since,
        until (RFC 3339), limit, cursor."""
        params = self._params(filters)
        body = await self._http.json("GET", self._path(params), params=params)
        return _items(models.AuditEvent, body), body.get("nextCursor")

    async def events(self, **filters: Any) -> list[models.AuditEvent]:
        events, _ = await self.page(**filters)
        return events

    async def iter_events(self, **filters: Any) -> AsyncIterator[models.AuditEvent]:
        """Every matching event, newest first, page after page."""
        cursor = filters.pop("cursor", None)
        while True:
            events, cursor = await self.page(cursor=cursor, **filters)
            for event in events:
                yield event
            if not cursor or not events:
                return

    async def verify(self) -> models.AuditChainReport:
        return models.AuditChainReport.from_json(
            await self._http.json("GET", "/v1/audit-events/verify")
        )

    async def export(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every matching event (oldest first, in chain order: `limit` does not apply) as
        the export's records, streamed."""
        params = self._params(filters)
        async with self._http.stream("GET", "/v1/audit-events/export", params=params) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)


class Tokens(Namespace):
    async def list(self, *, limit: int | None = None) -> list[models.ApiToken]:
        return _items(
            models.ApiToken, await self._http.json("GET", "/v1/tokens", params={"limit": limit})
        )

    async def create(
        self,
        name: str,
        *,
        role: str,
        principal: str | None = None,
        project_ids: Iterable[str] | None = None,
        expires_in_days: int | None = None,
    ) -> models.ApiTokenCreated:
        """A named token; its secret is in the result once and never again."""
        payload = _body(
            name=name,
            role=role,
            principal=principal,
            projectIds=list(project_ids) if project_ids is not None else None,
            expiresInDays=expires_in_days,
        )
        return models.ApiTokenCreated.from_json(
            await self._http.json("POST", "/v1/tokens", json=payload)
        )

    async def get(self, token_id: str) -> models.ApiToken:
        return models.ApiToken.from_json(await self._http.json("GET", f"/v1/tokens/{token_id}"))

    async def revoke(self, token_id: str) -> models.ApiToken:
        return models.ApiToken.from_json(await self._http.json("DELETE", f"/v1/tokens/{token_id}"))


def camel_case(fields: Mapping[str, Any]) -> dict[str, Any]:
    """snake_case keyword arguments as the API's camelCase JSON fields (camelCase kept)."""
    out = {}
    for name, value in fields.items():
        head, *rest = name.split("_")
        out[head + "".join(part[:1].upper() + part[1:] for part in rest)] = value
    return out


async def _saved(
    chunks: AsyncIterator[bytes], destination: str | os.PathLike | None
) -> bytes | None:
    """The bytes (no destination), or written to `destination` through a `.part` file
    that replaces it only once every chunk arrived (and is removed otherwise)."""
    if destination is None:
        return b"".join([chunk async for chunk in chunks])
    partial = f"{os.fspath(destination)}.part"
    try:
        with open(partial, "wb") as out:
            async for chunk in chunks:
                out.write(chunk)
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class AsyncMbox:
    """A client of one mbox server.

    Configuration: explicit arguments, then MBOX_API_URL, MBOX_TOKEN / MBOX_API_TOKEN,
    MBOX_REQUEST_ID, MBOX_AUDIT_ACTOR, MBOX_AUDIT_SOURCE, then the context (`context`,
    MBOX_CONTEXT, or the current one in MBOX_CONFIG / ~/.mbox/config.json).

    Timeouts, one per kind of call: `request_timeout` for each HTTP request,
    `wait_timeout` for waiting on a sandbox's state; a task's own limit is the
    `timeout` of `tasks.run`.
    """

    def __init__(
        self,
        api_url: str | None = None,
        token: str | None = None,
        *,
        context: str | None = None,
        config_file: str | os.PathLike | None = None,
        request_id: str | None = None,
        audit_actor: str | None = None,
        audit_source: str | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            api_url=api_url,
            token=token,
            context=context,
            config_file=config_file,
            request_id=request_id,
            audit_actor=audit_actor,
            audit_source=audit_source,
        )
        self.wait_timeout = wait_timeout
        self.transport = Transport(
            self.config,
            request_timeout=request_timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self.projects = Projects(self)
        self.credentials = Credentials(self)
        self.templates = Templates(self)
        self.sandboxes = Sandboxes(self)
        self.tasks = Tasks(self)
        self.code = Code(self)
        self.files = Files(self)
        self.artifacts = Artifacts(self)
        self.sessions = Sessions(self)
        self.previews = Previews(self)
        self.runtime = Runtime(self)
        self.audit = Audit(self)
        self.tokens = Tokens(self)

    async def __aenter__(self) -> AsyncMbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def health(self) -> dict[str, Any]:
        return await self.transport.json("GET", "/healthz")

    async def info(self) -> models.APIInfo:
        return models.APIInfo.from_json(await self.transport.json("GET", "/v1/info"))

    async def openapi(self) -> dict[str, Any]:
        return await self.transport.json("GET", "/v1/openapi.json")

    async def whoami(self) -> models.WhoAmI:
        return models.WhoAmI.from_json(await self.transport.json("GET", "/v1/whoami"))

    async def check_compatibility(
        self,
        *,
        required_capabilities: Iterable[str] = (),
        client_api_version: str = CLIENT_API_VERSION,
        client: str = "sdk",
    ) -> Compatibility:
        info = await self.transport.json("GET", "/v1/info")
        return check_compatibility(info, client, client_api_version, required_capabilities)  # type: ignore[arg-type]

    async def assert_compatible(self, **options: Any) -> Compatibility:
        result = await self.check_compatibility(**options)
        if not result.ok:
            raise CompatibilityError(result)
        return result

    async def resolve_project(self, project: str | None) -> str:
        """A project id from an id, a slug, or nothing (the one project the token sees)."""
        if project and _is_uuid(project):
            return project
        projects = await self.projects.list(limit=500)
        if project:
            for candidate in projects:
                if project in (candidate.slug, candidate.name):
                    return candidate.id
            raise NotFoundError(404, f"no project with id, slug or name {project!r}")
        if len(projects) == 1:
            return projects[0].id
        raise MboxError(
            f"say which project: the token sees {len(projects)} "
            f"({', '.join(p.slug for p in projects[:5])}{'...' if len(projects) > 5 else ''})"
        )
