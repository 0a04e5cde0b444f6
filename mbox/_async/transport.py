"""One HTTP connection pool to the server: headers, timeouts, typed errors, safe retries.

Retries: a request that never reached the server (connection refused, connect timeout)
is retried whatever its method; a dropped connection or a 502/504 only for methods that
are safe to repeat (GET, HEAD, PUT, DELETE) or requests carrying an Idempotency-Key; a
429 after the Retry-After it names, when that is short.
"""

from __future__ import annotations

import contextlib
import math
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from mbox import _aio
from mbox.config import ClientConfig
from mbox.errors import ApiError, ConnectionFailedError, error_for

USER_AGENT = "mbox-python/0.1.0"
REPEATABLE = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 504})
BACKOFF = (0.2, 0.6, 1.5, 3.0)
MAX_RETRY_AFTER = 5.0  # seconds a 429 may ask us to wait before we give up instead


def query(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters without the unset ones; booleans as the server spells them."""
    out: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class Transport:
    def __init__(
        self,
        config: ClientConfig,
        *,
        request_timeout: float,
        max_retries: int,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(
            base_url=config.api_url,
            timeout=httpx.Timeout(request_timeout, connect=min(request_timeout, 10.0)),
            headers=self.headers(),
        )

    def headers(self) -> dict[str, str]:
        config = self.config
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        for name, value in (
            ("X-Mbox-Request-ID", config.request_id),
            ("X-Mbox-Audit-Actor", config.audit_actor),
            ("X-Mbox-Audit-Source", config.audit_source),
        ):
            if value:
                headers[name] = value
        return headers

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    def _timeout(self, timeout: float | None) -> httpx.Timeout | None:
        """A call's own timeout (math.inf: wait for data as long as it takes)."""
        if timeout is None:
            return None
        return httpx.Timeout(None if math.isinf(timeout) else timeout, connect=10.0)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """The response of a request that succeeded (2xx/3xx); a typed error otherwise."""
        repeatable = method in REPEATABLE or "Idempotency-Key" in (headers or {})
        attempt = 0
        while True:
            request = self.http.build_request(
                method,
                path,
                params=query(params),
                json=json,
                content=content,
                headers=dict(headers or {}),
                timeout=self._timeout(timeout) or httpx.USE_CLIENT_DEFAULT,
            )
            try:
                response = await self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < self.max_retries:
                    attempt = await self._pause(attempt)
                    continue
                raise ConnectionFailedError(
                    f"cannot reach the mbox server at {self.config.api_url}: {exc}"
                ) from exc
            except httpx.TimeoutException as exc:
                raise ConnectionFailedError(f"{method} {path} timed out: {exc}") from exc
            except httpx.TransportError as exc:
                if repeatable and attempt < self.max_retries:
                    attempt = await self._pause(attempt)
                    continue
                raise ConnectionFailedError(f"{method} {path} failed: {exc}") from exc
            if response.status_code < 400:
                return response
            error = await self._error(response, method, path)
            if self._retry(error, repeatable, attempt):
                attempt = await self._pause(attempt, error)
                continue
            raise error

    def _retry(self, error: ApiError, repeatable: bool, attempt: int) -> bool:
        if attempt >= self.max_retries:
            return False
        if error.status == 429:
            wait = getattr(error, "retry_after", None)
            return wait is not None and wait <= MAX_RETRY_AFTER
        return repeatable and error.status in RETRY_STATUSES

    async def _pause(self, attempt: int, error: ApiError | None = None) -> int:
        wait = getattr(error, "retry_after", None) if error is not None else None
        await _aio.sleep(wait if wait is not None else BACKOFF[min(attempt, len(BACKOFF) - 1)])
        return attempt + 1

    async def _error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        await response.aread()
        await response.aclose()
        try:
            body = response.json()
        except ValueError:
            body = response.text or None
        return error_for(
            response.status_code,
            body,
            request_id=response.headers.get("X-Mbox-Request-ID"),
            method=method,
            path=path,
            reason=response.reason_phrase,
            headers={k.lower(): v for k, v in response.headers.items()},
        )

    async def json(self, method: str, path: str, **options: Any) -> Any:
        """The JSON body of a successful response (None for an empty one, e.g. 204)."""
        response = await self.send(method, path, **options)
        return response.json() if response.content else None

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, **options: Any) -> AsyncIterator[httpx.Response]:
        """A response whose body is read as it arrives (closed when the block ends)."""
        response = await self.send(method, path, stream=True, **options)
        try:
            yield response
        finally:
            await response.aclose()

    def websocket_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        base = urllib.parse.urlsplit(self.config.api_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        encoded = urllib.parse.urlencode(query(params))
        prefix = base.path.rstrip("/")
        return urllib.parse.urlunsplit((scheme, base.netloc, prefix + path, encoded, ""))
