"""The object store of the test Kubernetes API server: what etcd, the registry and the garbage
collector do for a real cluster, in memory, on one asyncio loop.

Its methods are plain synchronous functions, called only from the loop thread (the API server's
handlers, the simulated kubelet and controller). Every returned dict is a deep copy.

Emulated:
- metadata the server owns: uid, resourceVersion (one global counter, as a string),
  creationTimestamp, generation (1 on create, bumped when anything but metadata and status
  changes), namespace, generateName (`<prefix><5 random [a-z0-9]>`);
- 409 AlreadyExists, 409 Conflict on a stale resourceVersion (replace, or a patch that carries
  one), 404 on a missing object or namespace, 403 for new objects in a terminating namespace;
- writes that change nothing write nothing (no new resourceVersion, no event), as on a real server;
- status subresource: main-resource writes keep the stored .status, status writes change only
  .status; initial status of Namespaces (phase Active), Pods and PVCs (phase Pending);
- Secret stringData folded into data;
- validation: CRD objects against the OpenAPI v3 schema of the version written (pruning,
  defaults; see schema.py), core kinds minimally (schema.validate_core); 422 Invalid with causes;
- deletion: finalizers and deletionTimestamp; ownerReference garbage collection with Background
  (dependents go after the owner), Foreground (the owner stays, with deletionTimestamp and the
  `foregroundDeletion` finalizer, until its dependents are gone) and Orphan; deleting a Namespace
  marks it Terminating, deletes everything in it, and removes it once it is empty;
- watch history: the last `history_limit` events, so a watch can resume from a resourceVersion
  (events_since) or get 410 Expired.

Not emulated: garbage collection is synchronous (a real one lags behind; callers must not rely on
either); graceful deletion of Pods (they go at once unless they carry finalizers); PUT without
resourceVersion is accepted unconditionally; dryRun; managedFields and server-side apply; most
defaulting of core kinds (no clusterIP allocation, no container defaults); the `default`
ServiceAccount of each namespace; admission (quotas, LimitRanges, RBAC); list pagination.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import random
import string
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.support.kube import patches, schema
from tests.support.kube.selectors import Selector

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FOREGROUND = "foregroundDeletion"
# Status a freshly created object of these kinds gets from the real registry.
INITIAL_STATUS = {
    "Namespace": {"phase": "Active"},
    "Pod": {"phase": "Pending"},
    "PersistentVolumeClaim": {"phase": "Pending"},
    "Service": {"loadBalancer": {}},
}
# Metadata only the server writes: kept from the stored object on every update.
SERVER_METADATA = ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp")


class ApiError(Exception):
    """An error the API server answers with a metav1.Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


@dataclass(frozen=True)
class Resource:
    """One registered kind."""

    group: str  # "" for core
    version: str  # storage version, e.g. "v1beta1"
    versions: tuple[str, ...]  # served versions (all views of the same stored object)
    plural: str
    kind: str
    namespaced: bool
    status_subresource: bool

    @property
    def is_core(self) -> bool:
        """Built into the real server (not a CRD): strategic merge patch applies."""
        return self.group in ("", "networking.k8s.io")

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_plural(self) -> str:
        """How the server names the resource in messages: `pods`, `sandboxes.agents.x-k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        version = version or self.version
        return f"{self.group}/{version}" if self.group else version


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    resource: Resource
    object: dict  # a deep copy of the object after the change (as last stored for DELETED)
    old_object: dict | None = None  # before the change (None for ADDED); for selector watches

    @property
    def resource_version(self) -> int:
        return int(self.object["metadata"]["resourceVersion"])


def _core(plural: str, kind: str, *, namespaced: bool = True, status: bool = False) -> Resource:
    return Resource("", "v1", ("v1",), plural, kind, namespaced, status)


CORE_RESOURCES = (
    _core("namespaces", "Namespace", namespaced=False, status=True),
    _core("pods", "Pod", status=True),
    _core("services", "Service", status=True),
    _core("serviceaccounts", "ServiceAccount"),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", status=True),
    _core("secrets", "Secret"),
    _core("configmaps", "ConfigMap"),
    _core("events", "Event"),
    Resource("networking.k8s.io", "v1", ("v1",), "networkpolicies", "NetworkPolicy", True, False),
)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Beyond the shared interface (create, get, list, replace, patch, delete, subscribe,
    unsubscribe, resource): `version=` on writes names the served version whose schema
    applies (default: the object's apiVersion, else the storage version); register and
    register_crd add kinds; resources, find_resource, resource_version, selector and
    events_since serve the API server; set_history_limit lets tests force 410 Expired."""

    def __init__(self, crds: Iterable[schema.Crd] | None = None, *, history_limit: int = 1000):
        """crds: the custom resources to serve; None loads the agent-sandbox CRDs from
        schema.crd_directory() (which names the env var to set when they are missing)."""
        self._resources: dict[str, Resource] = {}
        self._schemas: dict[str, dict[str, dict]] = {}  # kind -> version -> openAPIV3Schema
        self._objects: dict[tuple[str, str, str], dict] = {}  # (kind, namespace, name) -> obj
        self._counter = itertools.count(1)
        self._resource_version = 0
        self._history: deque[WatchEvent] = deque(maxlen=history_limit)
        self._subscribers: list[asyncio.Queue[WatchEvent]] = []
        for resource in CORE_RESOURCES:
            self.register(resource)
        if crds is None:
            crds = schema.load_crds(schema.crd_directory())
        for crd in crds:
            self.register_crd(crd)
        namespaces = self.resource("Namespace")
        for name in DEFAULT_NAMESPACES:
            self.create(namespaces, None, {"metadata": {"name": name}})

    # Registration and lookup

    def register(self, resource: Resource, schemas: dict[str, dict] | None = None) -> None:
        self._resources[resource.kind] = resource
        if schemas:
            self._schemas[resource.kind] = schemas

    def register_crd(self, crd: schema.Crd) -> None:
        resource = Resource(
            crd.group,
            crd.storage_version,
            crd.versions,
            crd.plural,
            crd.kind,
            crd.namespaced,
            crd.status_subresource,
        )
        self.register(resource, crd.schemas)

    def resource(self, kind: str) -> Resource:
        return self._resources[kind]

    def resources(self) -> list[Resource]:
        return list(self._resources.values())

    def find_resource(self, group: str, version: str, plural: str) -> Resource | None:
        for resource in self._resources.values():
            if resource.group == group and resource.plural == plural:
                return resource if version in resource.versions else None
        return None

    @property
    def resource_version(self) -> str:
        """The resourceVersion of the latest write (what a list or a bookmark reports)."""
        return str(self._resource_version)

    def set_history_limit(self, limit: int) -> None:
        """Keep only the last `limit` events for watch resumption (tests force 410 with it)."""
        self._history = deque(self._history, maxlen=limit)

    # Verbs

    def create(
        self, resource: Resource, namespace: str | None, obj: dict, *, version: str | None = None
    ) -> dict:
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        namespace = self._request_namespace(resource, namespace, metadata)
        if namespace:
            self._require_open_namespace(namespace)
            metadata["namespace"] = namespace
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = self._generate_name(resource, namespace, metadata["generateName"])
        if resource.status_subresource:
            obj.pop("status", None)
        if resource.kind in INITIAL_STATUS:
            obj["status"] = copy.deepcopy(INITIAL_STATUS[resource.kind])
        obj = self._admit(resource, obj, None, version)
        key = (resource.kind, namespace or "", obj["metadata"]["name"])
        if key in self._objects:
            raise self._error(409, "AlreadyExists", resource, key[2], "already exists")
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            obj["metadata"].pop(field, None)
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        return self._write(resource, key, obj, "ADDED")

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict:
        return copy.deepcopy(self._existing(resource, namespace, name))

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[dict], str]:
        selector = self.selector(resource, label_selector, field_selector)
        items = [
            copy.deepcopy(obj)
            for (kind, obj_namespace, _), obj in sorted(self._objects.items())
            if kind == resource.kind
            and not (resource.namespaced and namespace and obj_namespace != namespace)
            and selector.matches(obj)
        ]
        return items, self.resource_version

    def replace(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        obj: dict,
        *,
        subresource: str | None = None,
        version: str | None = None,
    ) -> dict:
        body_name = (obj.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            message = (
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
            raise ApiError(400, "BadRequest", message)
        return self._update(resource, namespace, name, obj, subresource, version)

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: object,
        patch_type: str,
        *,
        subresource: str | None = None,
        version: str | None = None,
    ) -> dict:
        """patch_type: "merge" | "strategic" | "json"; subresource "status" changes only .status."""
        current = self.get(resource, namespace, name)
        if patch_type == "strategic" and not resource.is_core:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
            )
        apply = {
            "merge": patches.merge_patch,
            "strategic": patches.strategic_merge_patch,
            "json": patches.json_patch,
        }.get(patch_type)
        if apply is None:
            raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}")
        try:
            patched = apply(current, patch)
        except ValueError as error:
            raise ApiError(422, "Invalid", str(error)) from error
        if not isinstance(patched, dict):
            raise ApiError(422, "Invalid", "the patch does not produce an object")
        return self._update(resource, namespace, name, patched, subresource, version)

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
    ) -> dict:
        """Delete now, or mark for deletion when finalizers (or Foreground dependents) hold the
        object back. Returns the object as last stored."""
        if propagation not in ("Background", "Foreground", "Orphan"):
            supported = '"Background", "Foreground", "Orphan"'
            message = f'Unsupported value: "{propagation}": supported values: {supported}'
            message = f"propagationPolicy: {message}"
            raise ApiError(422, "Invalid", message)
        key = self._key(resource, namespace, name)
        obj = self._existing(resource, namespace, name)
        if resource.kind == "Namespace":
            return self._delete_namespace(key)
        if propagation == "Orphan":
            self._orphan_dependents(obj["metadata"]["uid"])
        return self._delete_key(key, propagation)

    # Watching

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        """A queue of every change of every kind, in order, from now on."""
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def events_since(self, resource_version: int) -> list[WatchEvent]:
        """The kept events after resource_version; 410 Expired when some are no longer kept."""
        if resource_version >= self._resource_version:
            return []
        oldest = self._history[0].resource_version if self._history else self._resource_version + 1
        if resource_version + 1 < oldest:
            message = f"too old resource version: {resource_version} ({oldest - 1})"
            raise ApiError(410, "Expired", message)
        return [event for event in self._history if event.resource_version > resource_version]

    def selector(self, resource: Resource, label_selector: str = "", field_selector: str = ""):
        try:
            return Selector.parse(label_selector, field_selector, resource.kind)
        except ValueError as error:
            raise ApiError(400, "BadRequest", str(error)) from error

    # Internals: reading

    def _key(self, resource: Resource, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (resource.kind, (namespace or "") if resource.namespaced else "", name)

    def _existing(self, resource: Resource, namespace: str | None, name: str) -> dict:
        obj = self._objects.get(self._key(resource, namespace, name))
        if obj is None:
            raise self._error(404, "NotFound", resource, name, "not found")
        return obj

    def _error(self, code: int, reason: str, resource: Resource, name: str, what: str) -> ApiError:
        details = {"name": name, "group": resource.group, "kind": resource.plural}
        message = f'{resource.qualified_plural} "{name}" {what}'
        return ApiError(code, reason, message, details)

    def _request_namespace(self, resource: Resource, namespace: str | None, metadata: dict) -> str:
        if not resource.namespaced:
            metadata.pop("namespace", None)
            return ""
        body_namespace = metadata.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            message = (
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
            raise ApiError(400, "BadRequest", message)
        return namespace or body_namespace or "default"

    def _require_open_namespace(self, namespace: str) -> None:
        found = self._objects.get(("Namespace", "", namespace))
        if found is None:
            raise self._error(404, "NotFound", self.resource("Namespace"), namespace, "not found")
        if found["metadata"].get("deletionTimestamp"):
            message = (
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated"
            )
            raise ApiError(403, "Forbidden", message)

    def _generate_name(self, resource: Resource, namespace: str, prefix: str) -> str:
        alphabet = string.ascii_lowercase + string.digits
        while True:
            name = prefix + "".join(random.choices(alphabet, k=5))
            if self._key(resource, namespace, name) not in self._objects:
                return name

    def _dependents(self, owner_uid: str) -> list[tuple[str, str, str]]:
        return [
            key
            for key, obj in self._objects.items()
            if any(ref.get("uid") == owner_uid for ref in _owner_references(obj))
        ]

    def _by_uid(self, uid: str) -> tuple[str, str, str] | None:
        return next((k for k, obj in self._objects.items() if obj["metadata"]["uid"] == uid), None)

    # Internals: writing

    def _admit(self, resource: Resource, obj: dict, old: dict | None, version: str | None) -> dict:
        """Validate (and for CRDs prune and default) an object about to be stored."""
        version = version or _version_of(resource, obj)
        obj["apiVersion"], obj["kind"] = resource.api_version(), resource.kind
        if resource.kind == "Secret":
            _fold_string_data(obj)
        schemas = self._schemas.get(resource.kind)
        if schemas:
            errors = schema.validate_metadata(resource.kind, obj)
            obj, schema_errors = schema.apply_schema(schemas[version], obj, old)
            errors += schema_errors
        else:
            errors = schema.validate_core(resource.kind, obj)
        if errors:
            raise self._invalid(resource, obj, errors)
        return obj

    def _invalid(self, resource: Resource, obj: dict, errors: list) -> ApiError:
        name = obj["metadata"].get("name", "")
        listed = str(errors[0]) if len(errors) == 1 else f"[{', '.join(map(str, errors))}]"
        kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
        details = {
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [
                {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
            ],
        }
        return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {listed}', details)

    def _update(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        new: dict,
        subresource: str | None,
        version: str | None,
    ) -> dict:
        key = self._key(resource, namespace, name)
        old = self._existing(resource, namespace, name)
        stale = (new.get("metadata") or {}).get("resourceVersion")
        if stale and stale != old["metadata"]["resourceVersion"]:
            message = (
                f"Operation cannot be fulfilled on {resource.qualified_plural} "
                f'"{name}": the object has been modified; please apply your changes to the '
                "latest version and try again"
            )
            details = {"name": name, "group": resource.group, "kind": resource.plural}
            raise ApiError(409, "Conflict", message, details)
        merged = self._merge_update(resource, old, copy.deepcopy(new), subresource)
        merged = self._admit(resource, merged, old, version)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if merged == old:
            return copy.deepcopy(old)
        if _spec_of(merged) != _spec_of(old):
            merged["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        written = self._write(resource, key, merged, "MODIFIED", old)
        if resource.kind == "Namespace":
            self._finish_namespace(name)
        elif written["metadata"].get("deletionTimestamp") and not written["metadata"].get(
            "finalizers"
        ):
            return self._remove(key)
        return written

    def _merge_update(
        self, resource: Resource, old: dict, new: dict, subresource: str | None
    ) -> dict:
        """What a write may change: the status subresource only .status, the main resource
        everything but .status (when the kind has a status subresource) and server metadata."""
        if subresource == "status":
            if not resource.status_subresource:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            merged = copy.deepcopy(old)
            _set_or_drop(merged, "status", new.get("status"))
            return merged
        if resource.status_subresource:
            _set_or_drop(new, "status", copy.deepcopy(old.get("status")))
        metadata = new.setdefault("metadata", {})
        for field in (*SERVER_METADATA, "generation"):
            _set_or_drop(metadata, field, old["metadata"].get(field))
        return new

    def _write(
        self,
        resource: Resource,
        key: tuple[str, str, str],
        obj: dict,
        event_type: str,
        old: dict | None = None,
    ) -> dict:
        self._resource_version = next(self._counter)
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        self._objects[key] = obj
        self._emit(WatchEvent(event_type, resource, copy.deepcopy(obj), copy.deepcopy(old)))
        return copy.deepcopy(obj)

    def _emit(self, event: WatchEvent) -> None:
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)

    # Internals: deletion and garbage collection

    def _delete_key(self, key: tuple[str, str, str], propagation: str) -> dict:
        obj = self._objects[key]
        resource = self.resource(key[0])
        dependents = self._dependents(obj["metadata"]["uid"])
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if propagation == "Foreground" and dependents and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if not finalizers:
            return self._remove(key)
        marked = obj
        if not obj["metadata"].get("deletionTimestamp") or finalizers != obj["metadata"].get(
            "finalizers"
        ):
            marked = copy.deepcopy(obj)
            marked["metadata"].update(deletionTimestamp=now(), finalizers=finalizers)
            marked["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            self._write(resource, key, marked, "MODIFIED", obj)
        if FOREGROUND in finalizers:
            for dependent in dependents:
                if dependent in self._objects:
                    self._delete_key(dependent, "Foreground")
        # As the real server answers: the object marked for deletion, even if it is gone by now.
        return copy.deepcopy(self._objects.get(key, marked))

    def _remove(self, key: tuple[str, str, str]) -> dict:
        """Take the object out of the store, then collect what depended on it."""
        obj = self._objects.pop(key)
        self._resource_version = next(self._counter)
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        resource = self.resource(key[0])
        self._emit(WatchEvent("DELETED", resource, copy.deepcopy(obj), copy.deepcopy(obj)))
        self._collect_orphans(obj["metadata"]["uid"])
        self._release_foreground_owners(obj)
        if key[1]:
            self._finish_namespace(key[1])
        return copy.deepcopy(obj)

    def _collect_orphans(self, owner_uid: str) -> None:
        """Background garbage collection: dependents none of whose owners exist any more."""
        for key in self._dependents(owner_uid):
            if key not in self._objects:
                continue
            owners = [ref.get("uid") for ref in _owner_references(self._objects[key])]
            if all(self._by_uid(uid) is None for uid in owners):
                self._delete_key(key, "Background")

    def _release_foreground_owners(self, dependent: dict) -> None:
        """An owner waiting in foreground deletion goes once its last dependent is gone."""
        for ref in _owner_references(dependent):
            owner_key = self._by_uid(ref.get("uid"))
            if owner_key is None:
                continue
            owner = self._objects[owner_key]
            finalizers = owner["metadata"].get("finalizers") or []
            if FOREGROUND not in finalizers or self._dependents(owner["metadata"]["uid"]):
                continue
            released = copy.deepcopy(owner)
            released["metadata"]["finalizers"] = [f for f in finalizers if f != FOREGROUND]
            self._write(self.resource(owner_key[0]), owner_key, released, "MODIFIED", owner)
            if not released["metadata"]["finalizers"]:
                self._remove(owner_key)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for key in self._dependents(owner_uid):
            old = self._objects[key]
            orphan = copy.deepcopy(old)
            refs = [r for r in _owner_references(orphan) if r.get("uid") != owner_uid]
            _set_or_drop(orphan["metadata"], "ownerReferences", refs or None)
            self._write(self.resource(key[0]), key, orphan, "MODIFIED", old)

    def _delete_namespace(self, key: tuple[str, str, str]) -> dict:
        old = self._objects[key]
        if not old["metadata"].get("deletionTimestamp"):
            terminating = copy.deepcopy(old)
            terminating["metadata"]["deletionTimestamp"] = now()
            terminating["status"] = {"phase": "Terminating"}
            self._write(self.resource("Namespace"), key, terminating, "MODIFIED", old)
        for content in [k for k in self._objects if k[1] == key[2]]:
            if content in self._objects:
                self._delete_key(content, "Background")
        self._finish_namespace(key[2])
        return copy.deepcopy(self._objects.get(key, old))

    def _finish_namespace(self, name: str) -> None:
        key = ("Namespace", "", name)
        namespace = self._objects.get(key)
        if (
            namespace is None
            or not namespace["metadata"].get("deletionTimestamp")
            or namespace["metadata"].get("finalizers")
            or any(k[1] == name for k in self._objects)
        ):
            return
        self._remove(key)


def _owner_references(obj: dict) -> list[dict]:
    return obj["metadata"].get("ownerReferences") or []


def _spec_of(obj: dict) -> dict:
    """What generation tracks: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _set_or_drop(target: dict, key: str, value: object) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _version_of(resource: Resource, obj: dict) -> str:
    """The served version the object is written in (its apiVersion), else the storage one."""
    group, _, version = (obj.get("apiVersion") or "").rpartition("/")
    if group == resource.group and version in resource.versions:
        return version
    return resource.version


def _fold_string_data(secret: dict) -> None:
    """The real server stores Secret.stringData base64-encoded in .data."""
    for name, value in (secret.pop("stringData", None) or {}).items():
        secret.setdefault("data", {})[name] = base64.b64encode(value.encode()).decode()
