"""The HTTP side of the test Kubernetes API server: a Starlette app that speaks kube-apiserver's
REST dialect well enough for the official `kubernetes` client (CoreV1Api, CustomObjectsApi,
NetworkingV1Api, watch.Watch, stream) to work against it unmodified.

Emulated:
- paths /api/v1/..., /apis/<group>/<version>/..., namespaced and cluster-scoped; every served
  version of a CRD is a view of the same stored object (apiVersion rewritten per request);
- discovery at /api, /apis, /api/v1, /apis/<group>, /apis/<group>/<version>, and /version;
- verbs: create (201, generateName), get, list (labelSelector, fieldSelector), replace (PUT),
  patch (merge, strategic merge for core kinds, JSON patch; apply-patch is 415), delete (with
  propagationPolicy as query or DeleteOptions body, and preconditions), deletecollection;
  the status subresource (PUT/PATCH .../status);
- watch (`?watch=true` on a list path): newline-delimited JSON events; resourceVersion ("" or
  "0": the current objects as ADDED first; otherwise resume after it, or one ERROR event with a
  410 Expired Status when it is older than the kept history); timeoutSeconds ends the stream;
  allowWatchBookmarks sends BOOKMARK events every `bookmark_interval` seconds and at the end;
  label and field selectors apply (an object that stops matching arrives as DELETED, one that
  starts matching as ADDED, as on a real server);
- errors as metav1.Status with the real codes and reasons; 401 without a known bearer token,
  on every path including WebSocket handshakes;
- RBAC for extra tokens (`grant`): each has the rules of a ClusterRole, and a request its
  rules do not allow answers 403 Forbidden, worded as the real server words it (verb as the
  authorizer sees it: get/list/watch, create, update, patch, delete/deletecollection; pod
  exec, attach and portforward over WebSocket need `create`); discovery is open to all;
- Pod subresources exec, attach, portforward (WebSocket), log, proxy (HTTP and WebSocket,
  `pods/<name>[:<port>]/proxy/<path>`) are handed to the kubelet object (see kubelet.py) once
  the pod is known to exist; 404 when there is no kubelet.
- The metrics API as metrics-server serves it, when the kubelet measures pods (`pod_usage`):
  PodMetrics (metrics.k8s.io/v1beta1 `pods`, get and list with selectors, namespaced or
  across namespaces, read-only, no watch) of the running pods the kubelet has a reading
  for; a pod without one is NotFound, as a pod metrics-server has not scraped yet.

Not emulated: protobuf and CBOR, Table output, server-side apply, dryRun, list pagination
(limit is ignored: everything comes in one page), resourceVersionMatch and list at an older
resourceVersion, sendInitialEvents, the scale subresource, /openapi, the legacy /watch/ paths,
SPDY (exec over POST answers 400 "Upgrade request required", as the real server does).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support.kube.selectors import Selector
from tests.support.kube.store import ApiError, Resource, Store, WatchEvent, now

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
POD_STREAMS = ("exec", "attach", "portforward")  # WebSocket only
POD_SUBRESOURCES = (*POD_STREAMS, "log", "proxy")
STATUS_VERBS = ["get", "patch", "update"]
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DEFAULT_WATCH_SECONDS = 1800  # the real server's minimum request timeout
VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-mbox-test",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
# metrics-server's aggregated API: computed from the pods and the kubelet, never stored.
POD_METRICS = Resource("metrics.k8s.io", "v1beta1", ("v1beta1",), "pods", "PodMetrics", True, False)
METRICS_WINDOW = "10s"
# Core kinds whose immediate deletion the real server answers with a Status, not the object.
OBJECT_ON_DELETE = {"Pod", "Namespace"}


@dataclass(frozen=True)
class Target:
    """What a request path names."""

    resource: Resource
    version: str
    namespace: str | None
    name: str | None = None
    subresource: str | None = None
    port: int = 80  # pods/<name>:<port>/proxy

    def view(self, obj: dict) -> dict:
        """The stored object as this request's version shows it."""
        return {**obj, "apiVersion": self.resource.api_version(self.version)}


def not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def status_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.status(), status_code=error.code)


class ApiServer:
    def __init__(
        self, store: Store, *, token: str, kubelet: object = None, bookmark_interval: float = 5.0
    ):
        self.store = store
        self.token = token
        self.kubelet = kubelet
        self.bookmark_interval = bookmark_interval
        self._watches: set[asyncio.Queue] = set()
        self._grants: dict[str, list[dict]] = {}  # token -> ClusterRole rules

    def grant(self, token: str, rules: list[dict]) -> None:
        """Accept `token`, allowed only what `rules` (a ClusterRole's) allow."""
        self._grants[token] = rules

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{path:path}", self.handle, methods=METHODS),
                WebSocketRoute("/{path:path}", self.handle_websocket),
            ]
        )

    def close_watches(self) -> None:
        """End every open watch stream (the server is stopping)."""
        for queue in self._watches:
            queue.put_nowait(None)

    # Entry points

    async def handle(self, request: Request) -> Response:
        try:
            rules = self._authenticate(request)
            if rules is not None and self._discovery(request.url.path, request) is None:
                target = self._target(request.url.path)
                _authorize(rules, _verb(request.method, target, request), target)
            return await self._dispatch(request)
        except ApiError as error:
            return status_response(error)

    async def handle_websocket(self, websocket: WebSocket) -> None:
        try:
            rules = self._authenticate(websocket)
            target = self._target(websocket.url.path)
            if target.resource.kind != "Pod" or target.subresource not in POD_SUBRESOURCES:
                raise not_found()
            if rules is not None:
                _authorize(rules, "create" if target.subresource in POD_STREAMS else "get", target)
            pod = self.store.get(target.resource, target.namespace, target.name)
            kubelet = self._kubelet()
        except ApiError as error:
            await _deny(websocket, error)
            return
        try:
            if target.subresource == "proxy":
                path = _proxy_path(websocket.url.path)
                await kubelet.proxy_websocket(websocket, pod, target.port, path)
            elif target.subresource == "log":
                raise ApiError(400, "BadRequest", "pods/log is plain HTTP")
            else:
                serve = getattr(kubelet, target.subresource)
                await serve(websocket, pod, websocket.query_params)
        except ApiError as error:  # the kubelet refused the request before accepting it
            await _deny(websocket, error)

    def _authenticate(self, connection: HTTPConnection) -> list[dict] | None:
        """The caller's RBAC rules; None for the cluster's admin token."""
        given = connection.headers.get("authorization", "")
        if given == f"Bearer {self.token}":
            return None
        token = given.removeprefix("Bearer ")
        if given.startswith("Bearer ") and token in self._grants:
            return self._grants[token]
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def _kubelet(self):
        if self.kubelet is None:
            raise ApiError(404, "NotFound", "no kubelet serves this pod")
        return self.kubelet

    # Routing

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        discovery = self._discovery(path, request)
        if discovery is not None:
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")
            return JSONResponse(discovery)
        target = self._target(path)
        if target.resource is POD_METRICS:
            return await self._pod_metrics(request, target)
        if target.subresource in POD_SUBRESOURCES and target.resource.kind == "Pod":
            return await self._pod_subresource(request, target)
        if target.subresource not in (None, "status"):
            raise not_found()
        if target.name is None:
            return await self._collection(request, target)
        return await self._item(request, target)

    def _target(self, path: str) -> Target:
        parts = [part for part in path.split("/") if part]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise not_found()
        resource = self.store.find_resource(group, version, rest[0])
        if self._serves_metrics() and (group, version, rest[0]) == _metrics_path():
            resource = POD_METRICS
        if resource is None or (namespace is not None and not resource.namespaced):
            raise not_found()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        port = 80
        if subresource == "proxy" and name and ":" in name:
            name, _, port_text = name.partition(":")
            if not port_text.isdigit():
                raise ApiError(400, "BadRequest", f"invalid port {port_text!r}")
            port = int(port_text)
        if name is not None and resource.namespaced and namespace is None:
            raise not_found()
        if subresource not in (None, "proxy") and len(rest) > 3:
            raise not_found()
        return Target(resource, version, namespace, name, subresource, port)

    # Collections and items

    async def _collection(self, request: Request, target: Target) -> Response:
        query = request.query_params
        if request.method == "GET" and query.get("watch") in ("1", "true"):
            return self._watch(request, target)
        if request.method == "GET":
            items, version = self.store.list(
                target.resource,
                target.namespace,
                label_selector=query.get("labelSelector", ""),
                field_selector=query.get("fieldSelector", ""),
            )
            return JSONResponse(self._list(target, items, version))
        if request.method == "POST":
            body = await _json_object(request)
            _check_api_version(target, body)
            created = self.store.create(
                target.resource, target.namespace, body, version=target.version
            )
            return JSONResponse(target.view(created), status_code=201)
        if request.method == "DELETE":
            return await self._delete_collection(request, target)
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on a collection")

    def _list(self, target: Target, items: list[dict], resource_version: str) -> dict:
        return {
            "kind": target.resource.list_kind,
            "apiVersion": target.resource.api_version(target.version),
            "metadata": {"resourceVersion": resource_version},
            "items": [target.view(item) for item in items],
        }

    async def _delete_collection(self, request: Request, target: Target) -> Response:
        query = request.query_params
        items, _ = self.store.list(
            target.resource,
            target.namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
        )
        propagation = await _propagation(request)
        for item in items:
            metadata = item["metadata"]
            self.store.delete(
                target.resource,
                metadata.get("namespace"),
                metadata["name"],
                propagation=propagation,
            )
        return JSONResponse(self._list(target, items, self.store.resource_version))

    async def _item(self, request: Request, target: Target) -> Response:
        resource, namespace, name = target.resource, target.namespace, target.name
        if request.method == "GET":
            return JSONResponse(target.view(self.store.get(resource, namespace, name)))
        if request.method == "PUT":
            body = await _json_object(request)
            _check_api_version(target, body)
            replaced = self.store.replace(
                resource,
                namespace,
                name,
                body,
                subresource=target.subresource,
                version=target.version,
            )
            return JSONResponse(target.view(replaced))
        if request.method == "PATCH":
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type not in PATCH_TYPES:
                raise ApiError(
                    415, "UnsupportedMediaType", f"unsupported patch type {content_type}"
                )
            patched = self.store.patch(
                resource,
                namespace,
                name,
                await _json_body(request),
                PATCH_TYPES[content_type],
                subresource=target.subresource,
                version=target.version,
            )
            return JSONResponse(target.view(patched))
        if request.method == "DELETE" and target.subresource is None:
            return await self._delete(request, target)
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")

    async def _delete(self, request: Request, target: Target) -> Response:
        resource = target.resource
        options = await _delete_options(request)
        current = self.store.get(resource, target.namespace, target.name)
        _check_preconditions(target, current, options.get("preconditions") or {})
        last = self.store.delete(
            resource, target.namespace, target.name, propagation=_propagation_of(request, options)
        )
        try:
            still_there = self.store.get(resource, target.namespace, target.name)
        except ApiError:
            still_there = None
        if still_there and still_there["metadata"]["uid"] == last["metadata"]["uid"]:
            return JSONResponse(target.view(still_there))  # held back by finalizers
        if resource.is_core and resource.kind not in OBJECT_ON_DELETE:
            return JSONResponse(_success(target, last))
        return JSONResponse(target.view(last))

    # Watch

    def _watch(self, request: Request, target: Target) -> Response:
        query = request.query_params
        selector = self.store.selector(
            target.resource, query.get("labelSelector", ""), query.get("fieldSelector", "")
        )
        seconds = float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        first, queue = self._start_watch(target, selector, query.get("resourceVersion", ""))
        lines = self._watch_lines(target, selector, queue, first, seconds, bookmarks)
        return StreamingResponse(lines, media_type="application/json")

    def _start_watch(self, target: Target, selector: Selector, since: str):
        """Subscribe, then read the past: no change can fall in between (one loop, no await)."""
        queue = self.store.subscribe()
        try:
            first = self._first_events(target, selector, since)
        except ApiError:
            self.store.unsubscribe(queue)
            raise
        self._watches.add(queue)
        return first, queue

    def _first_events(self, target: Target, selector: Selector, since: str) -> list[dict]:
        """What a watch sends before live events: the current objects, or the kept events
        after `since`, or one ERROR event when those are no longer kept."""
        if since in ("", "0"):
            items, _ = self.store.list(target.resource, target.namespace)
            return [
                {"type": "ADDED", "object": target.view(item)}
                for item in items
                if selector.matches(item)
            ]
        try:
            past = self.store.events_since(int(since))
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {since!r}") from error
        except ApiError as error:
            return [{"type": "ERROR", "object": error.status()}]
        return [e for e in (_watch_event(target, selector, event) for event in past) if e]

    async def _watch_lines(
        self,
        target: Target,
        selector: Selector,
        queue: asyncio.Queue,
        first: list[dict],
        seconds: float,
        bookmarks: bool,
    ):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            for event in first:
                yield _line(event)
            if any(event["type"] == "ERROR" for event in first):
                return
            while (remaining := deadline - loop.time()) > 0:
                wait = min(remaining, self.bookmark_interval) if bookmarks else remaining
                try:
                    change = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    if bookmarks and remaining > wait:
                        yield _line(self._bookmark(target))
                    continue
                if change is None:
                    return
                event = _watch_event(target, selector, change)
                if event:
                    yield _line(event)
            # Changes still queued come first: a bookmark says the watcher has seen every
            # change up to its version, and the watcher resumes after it.
            while not queue.empty():
                change = queue.get_nowait()
                if change is None:
                    return
                if event := _watch_event(target, selector, change):
                    yield _line(event)
            if bookmarks:
                yield _line(self._bookmark(target))
        finally:
            self._watches.discard(queue)
            self.store.unsubscribe(queue)

    def _bookmark(self, target: Target) -> dict:
        metadata = {"resourceVersion": self.store.resource_version}
        obj = {"kind": target.resource.kind, "metadata": metadata}
        return {"type": "BOOKMARK", "object": target.view(obj)}

    # Pod subresources over HTTP

    async def _pod_subresource(self, request: Request, target: Target) -> Response:
        pod = self.store.get(target.resource, target.namespace, target.name)
        kubelet = self._kubelet()
        if target.subresource == "log":
            return Response(await kubelet.log(pod, request.query_params), media_type="text/plain")
        if target.subresource == "proxy":
            return await kubelet.proxy(request, pod, target.port, _proxy_path(request.url.path))
        raise ApiError(400, "BadRequest", "Upgrade request required")

    # The metrics API

    def _serves_metrics(self) -> bool:
        return hasattr(self.kubelet, "pod_usage")

    async def _pod_metrics(self, request: Request, target: Target) -> Response:
        if request.method != "GET" or request.query_params.get("watch") in ("1", "true"):
            raise ApiError(405, "MethodNotAllowed", "the metrics API is read-only (get, list)")
        if target.subresource is not None:
            raise not_found()
        pods = self.store.resource("Pod")
        if target.name is not None:
            found = await self._metrics_of(self.store.get(pods, target.namespace, target.name))
            if found is None:
                name = f"{target.namespace}/{target.name}"
                raise ApiError(404, "NotFound", f'podmetrics.metrics.k8s.io "{name}" not found')
            return JSONResponse(found)
        query = request.query_params
        items, _ = self.store.list(
            pods,
            target.namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
        )
        found = [metric for pod in items if (metric := await self._metrics_of(pod))]
        return JSONResponse(
            {
                "kind": "PodMetricsList",
                "apiVersion": POD_METRICS.api_version(),
                "metadata": {},
                "items": found,
            }
        )

    async def _metrics_of(self, pod: dict) -> dict | None:
        """A running pod's PodMetrics, from the kubelet's reading (None: no reading)."""
        if (pod.get("status") or {}).get("phase") != "Running":
            return None
        usage = await self.kubelet.pod_usage(pod)  # type: ignore[union-attr]
        if usage is None:
            return None
        meta = pod["metadata"]
        return {
            "kind": "PodMetrics",
            "apiVersion": POD_METRICS.api_version(),
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "labels": meta.get("labels") or {},
                "creationTimestamp": now(),
            },
            "timestamp": now(),
            "window": METRICS_WINDOW,
            "containers": [{"name": name, "usage": used} for name, used in usage.items()],
        }

    # Discovery

    def _discovery(self, path: str, request: Request) -> dict | None:
        parts = [part for part in path.split("/") if part]
        if parts == ["version"]:
            return VERSION
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.netloc}
                ],
            }
        if parts == ["apis"]:
            groups = [self._group(name) for name in self._group_names()]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if len(parts) == 2 and parts[0] == "apis":
            if parts[1] not in self._group_names():
                raise not_found()
            return {"kind": "APIGroup", "apiVersion": "v1", **self._group(parts[1])}
        if parts == ["api", "v1"]:
            return self._resource_list("", "v1")
        if len(parts) == 3 and parts[0] == "apis":
            return self._resource_list(parts[1], parts[2])
        return None

    def _served(self) -> list[Resource]:
        return self.store.resources() + ([POD_METRICS] if self._serves_metrics() else [])

    def _group_names(self) -> list[str]:
        return sorted({r.group for r in self._served() if r.group})

    def _group(self, name: str) -> dict:
        versions = []
        for resource in self._served():
            versions += [v for v in resource.versions if resource.group == name]
        versions = list(dict.fromkeys(versions))  # storage (preferred) versions come first
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": entries, "preferredVersion": entries[0]}

    def _resource_list(self, group: str, version: str) -> dict:
        resources = [r for r in self._served() if r.group == group and version in r.versions]
        if not resources:
            raise not_found()
        entries = []
        for resource in resources:
            verbs = ["get", "list"] if resource is POD_METRICS else VERBS
            entries.append(_discovery_entry(resource, resource.plural, resource.kind, verbs))
            if resource.status_subresource:
                status_verbs = ["get", "patch", "update"]
                entries.append(
                    _discovery_entry(
                        resource, f"{resource.plural}/status", resource.kind, status_verbs
                    )
                )
            if resource.kind == "Pod":
                entries += [
                    _discovery_entry(resource, f"pods/{sub}", f"Pod{sub.title()}Options", ["get"])
                    for sub in POD_SUBRESOURCES
                ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": entries,
        }


def create_app(
    store: Store, *, token: str, kubelet: object = None, bookmark_interval: float = 5.0
) -> Starlette:
    server = ApiServer(store, token=token, kubelet=kubelet, bookmark_interval=bookmark_interval)
    app = server.app()
    app.state.api_server = server
    return app


def _metrics_path() -> tuple[str, str, str]:
    return POD_METRICS.group, POD_METRICS.version, POD_METRICS.plural


def _verb(method: str, target: Target, request: Request) -> str:
    """The verb RBAC checks for a REST request."""
    if method == "GET":
        if target.name is not None:
            return "get"
        return "watch" if request.query_params.get("watch") in ("true", "1") else "list"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]


def _authorize(rules: list[dict], verb: str, target: Target) -> None:
    resource = target.resource
    name = resource.plural + (f"/{target.subresource}" if target.subresource else "")
    for rule in rules:
        if (
            _allows(rule.get("apiGroups"), resource.group)
            and _allows(rule.get("resources"), name)
            and _allows(rule.get("verbs"), verb)
        ):
            return
    where = (
        f' in the namespace "{target.namespace}"' if target.namespace else " at the cluster scope"
    )
    group = f'in API group "{resource.group}"'
    message = f'User "mbox-test" cannot {verb} resource "{name}" {group}{where}'
    raise ApiError(403, "Forbidden", message)


def _allows(allowed: list[str] | None, value: str) -> bool:
    return bool(allowed) and ("*" in allowed or value in allowed)


def _discovery_entry(resource: Resource, name: str, kind: str, verbs: list[str]) -> dict:
    return {
        "name": name,
        "singularName": "" if "/" in name else resource.kind.lower(),
        "namespaced": resource.namespaced,
        "kind": kind,
        "verbs": verbs,
    }


def _watch_event(target: Target, selector: Selector, event: WatchEvent) -> dict | None:
    """The event as this watch reports it, or None when it is not for this watch. A change
    that moves an object into or out of the selection is ADDED or DELETED, as on a real server."""
    obj = event.object
    if event.resource.kind != target.resource.kind:
        return None
    if target.namespace and obj["metadata"].get("namespace") != target.namespace:
        return None
    matches_now = selector.matches(obj)
    matched_before = event.old_object is not None and selector.matches(event.old_object)
    event_type = event.type
    if event_type == "MODIFIED" and matches_now != matched_before:
        event_type = "ADDED" if matches_now else "DELETED"
    elif not matches_now:
        return None
    return {"type": event_type, "object": target.view(obj)}


def _line(event: dict) -> bytes:
    return json.dumps(event).encode() + b"\n"


def _success(target: Target, deleted: dict) -> dict:
    metadata = deleted["metadata"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": metadata["name"],
            "group": target.resource.group,
            "kind": target.resource.plural,
            "uid": metadata["uid"],
        },
    }


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError as error:
        raise ApiError(400, "BadRequest", f"the request body is not JSON: {error}") from error


async def _json_object(request: Request) -> dict:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return body


def _check_api_version(target: Target, body: dict) -> None:
    """The body's apiVersion and kind must be the URL's (absent ones are filled in)."""
    expected = {"apiVersion": target.resource.api_version(target.version)}
    expected["kind"] = target.resource.kind
    for field, value in expected.items():
        if body.setdefault(field, value) != value:
            message = f"the {field} in the data ({body[field]}) does not match the expected {value}"
            raise ApiError(400, "BadRequest", message)


async def _delete_options(request: Request) -> dict:
    body = await request.body()
    if not body.strip():
        return {}
    options = await _json_body(request)
    return options if isinstance(options, dict) else {}


async def _propagation(request: Request) -> str:
    return _propagation_of(request, await _delete_options(request))


def _propagation_of(request: Request, options: dict) -> str:
    if options.get("propagationPolicy"):
        return options["propagationPolicy"]
    if options.get("orphanDependents") is True:
        return "Orphan"
    return request.query_params.get("propagationPolicy") or "Background"


def _check_preconditions(target: Target, current: dict, preconditions: dict) -> None:
    metadata = current["metadata"]
    for field in ("uid", "resourceVersion"):
        wanted = preconditions.get(field)
        if wanted and wanted != metadata[field]:
            message = (
                f"Operation cannot be fulfilled on {target.resource.qualified_plural} "
                f'"{target.name}": Precondition failed: {field} in precondition: {wanted}, '
                f"{field} in object meta: {metadata[field]}"
            )
            raise ApiError(409, "Conflict", message)


def _proxy_path(url_path: str) -> str:
    """What follows `/proxy` in pods/<name>[:<port>]/proxy/<path> (trailing slash kept)."""
    parts = url_path.split("/")
    return "/".join(parts[parts.index("proxy", parts.index("pods") + 2) + 1 :])


async def _deny(websocket: WebSocket, error: ApiError) -> None:
    """Refuse a WebSocket handshake with the HTTP status and Status body of the error."""
    try:
        await websocket.send_denial_response(status_response(error))
    except RuntimeError:  # the server cannot send HTTP responses to a handshake
        await websocket.close(code=1008, reason=error.message[:120])
