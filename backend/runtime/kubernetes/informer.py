"""Informers: a local copy of one kind's objects, kept current by a watch.

Each informer lists once, then watches from the list's resourceVersion (with bookmarks),
resumes from the last version it saw when a watch ends, lists again when the server says
that version is gone (410) and every `resync` seconds, and backs off exponentially while
the API fails (its last error is kept for health reports). It runs in a thread of its
own: the official client is synchronous. Readers on the event loop take copies.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import kubernetes
import urllib3

log = logging.getLogger("mbox.kubernetes")
Key = tuple[str, str]  # (namespace, name)
WATCH_SECONDS = 60  # each watch request ends after this long (then resumes)


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")


class Informer:
    def __init__(
        self,
        name: str,
        list_fn: Callable[..., Any],
        *,
        label_selector: str = "",
        on_change: Callable[[dict[str, Any]], None] = lambda obj: None,
        resync: float = 300.0,
    ) -> None:
        self.name = name
        self._list_fn = list_fn
        self._selector = label_selector
        self._on_change = on_change
        self._resync = resync
        self._objects: dict[Key, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.synced = threading.Event()
        self.error = ""
        self.error_at = 0.0
        self.requests = 0  # API requests made (lists and watches), for the benchmark

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def run(self, stopping: threading.Event) -> None:
        """The informer's thread: list and watch until `stopping` is set."""
        backoff = 0.2
        while not stopping.is_set():
            try:
                version = self._list()
                self.error, backoff = "", 0.2
                self._watch(version, stopping)
            except Exception as exc:  # the API is down or refused: try again, later
                self.error, self.error_at = f"{self.name}: {_words(exc)}", time.time()
                log.warning("informer %s failed: %s", self.name, self.error)
                stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _list(self) -> str:
        self.requests += 1
        response = self._list_fn(label_selector=self._selector, _preload_content=False)
        document = json.loads(response.data)
        fresh = {key_of(obj): obj for obj in document.get("items") or []}
        with self._lock:
            old, self._objects = self._objects, fresh
        for key, obj in fresh.items():
            if old.get(key) != obj:
                self._on_change(obj)
        for key, obj in old.items():
            if key not in fresh:
                self._on_change(obj)
        self.synced.set()
        return document["metadata"]["resourceVersion"]

    def _watch(self, version: str, stopping: threading.Event) -> None:
        """Watch from `version` until it is gone (410) or it is time to list again."""
        resync_at = time.monotonic() + self._resync
        while not stopping.is_set() and time.monotonic() < resync_at:
            self.requests += 1
            watch = kubernetes.watch.Watch()
            stream = watch.stream(
                self._list_fn,
                label_selector=self._selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
            )
            try:
                for event in stream:
                    version = self._apply(event) or version
                    if stopping.is_set():
                        return
            except kubernetes.client.ApiException as exc:
                if exc.status == 410:  # too old: list again
                    return
                raise
            finally:
                watch.stop()

    def _apply(self, event: dict[str, Any]) -> str | None:
        """Take one watch event; the resourceVersion to resume from."""
        obj = event.get("raw_object") or {}
        kind = event.get("type")
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise kubernetes.client.ApiException(status=410, reason="Gone")
            raise RuntimeError(obj.get("message") or "watch error")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            return version
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(key_of(obj), None)
            else:
                self._objects[key_of(obj)] = obj
        self._on_change(obj)
        return version


def _words(exc: Exception) -> str:
    if isinstance(exc, kubernetes.client.ApiException):
        return f"the Kubernetes API answered {exc.status} {exc.reason}"
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.pool is not None:
        pool = exc.pool
        # "...: Failed to establish a new connection: [Errno 111] Connection refused")
        cause = re.sub(r"^\[Errno \d+\] ", "", str(exc.reason).rsplit(": ", 1)[-1]).rstrip('")')
        return (
            f"cannot reach the Kubernetes API at {pool.scheme}://{pool.host}:{pool.port}: {cause}"
        )
    return str(exc) or exc.__class__.__name__
