"""A test Kubernetes cluster in one background thread: its own asyncio loop runs the store,
the API server (uvicorn on 127.0.0.1:<free port>, plain HTTP, bearer token) and the optional
kubelet and controller.

    with KubeCluster(kubelet_factory=Kubelet) as cluster:
        config = cluster.kubeconfig(tmp_path / "kubeconfig")   # for the code under test
        core = kubernetes.client.CoreV1Api(cluster.api_client())
        pods = cluster.call(lambda store: store.list(store.resource("Pod"))[0])

The store belongs to the loop thread: other threads reach it only through call().
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import uvicorn
import yaml

from tests.support.kube.apiserver import create_app
from tests.support.kube.store import Store

STARTUP_SECONDS = 10


class KubeCluster:
    def __init__(
        self,
        *,
        kubelet_factory: Callable[[Store], Any] | None = None,
        controller_factory: Callable[[Store], Any] | None = None,
        token: str = "test-token",
        history_limit: int = 1000,
        bookmark_interval: float = 5.0,
    ):
        """factories: callables (store) -> object with `async start(store)` / `async stop()`."""
        self.token = token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kube", daemon=True)
        self._thread.start()
        self._parts: list[Any] = []  # kubelet and controller, started in this order
        try:
            self._run(
                self._start(kubelet_factory, controller_factory, history_limit, bookmark_interval),
                STARTUP_SECONDS,
            )
        except BaseException:
            self.stop()
            raise

    async def _start(self, kubelet_factory, controller_factory, history_limit, bookmark_interval):
        self.store = Store(history_limit=history_limit)
        kubelet = kubelet_factory(self.store) if kubelet_factory else None
        controller = controller_factory(self.store) if controller_factory else None
        for part in (kubelet, controller):
            if part is not None:
                await part.start(self.store)
                self._parts.append(part)
        self._app = create_app(
            self.store, token=self.token, kubelet=kubelet, bookmark_interval=bookmark_interval
        )
        # IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then (without
        # it every small answer waits ~40 ms for the client's delayed ACK).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = uvicorn.Config(
            self._app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.ensure_future(self._server.serve(sockets=[listener]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises why it stopped
            await asyncio.sleep(0.01)

    def grant(self, token: str, rules: list[dict]) -> None:
        """Accept another bearer token, allowed only what the ClusterRole `rules` allow."""
        self._app.state.api_server.grant(token, rules)

    def kubeconfig(self, path: Path, context: str = "mbox-test", token: str = "") -> Path:
        """Write a real kubeconfig file for this cluster (server URL, token, context): the
        admin token, or `token` (one given `grant`)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": "default"},
                }
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def api_client(self) -> kubernetes.client.ApiClient:
        configuration = kubernetes.client.Configuration(host=self.url)
        configuration.api_key = {"BearerToken": self.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return kubernetes.client.ApiClient(configuration)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run fn(store, *args, **kwargs) on the loop thread and return its result (awaited
        when it is a coroutine)."""

        async def run() -> Any:
            result = fn(self.store, *args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return self._run(run())

    def stop(self) -> None:
        """Stop the controller and kubelet, then the server, then the loop. Idempotent."""
        if not self._loop.is_running():
            return
        self._run(self._stop(), timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        try:
            while self._parts:
                await self._parts.pop().stop()
        finally:
            server = getattr(self, "_server", None)
            if server is not None:
                self._app.state.api_server.close_watches()
                server.should_exit = True
                await self._serving

    def _run(self, coroutine, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> KubeCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
