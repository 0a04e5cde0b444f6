"""What can go wrong talking to mbox, as exceptions a program can catch precisely.

Every refusal from the server is an `ApiError` carrying the HTTP status, the server's
message (`{"error": ...}`), the request id to quote in a bug report and, for policy and
quota refusals, the structured `denial` (the operation and every rule it broke).
"""

from __future__ import annotations

from typing import Any


class MboxError(Exception):
    """Base of every error this package raises."""


class ApiError(MboxError):
    status: int = 0

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: Any = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.message = message
        self.body = body
        self.request_id = request_id
        self.method = method
        self.path = path

    @property
    def denial(self) -> dict[str, Any] | None:
        """A policy or quota refusal's operation and broken rules (None otherwise)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("denial"), dict):
            return self.body["denial"]
        return None

    @property
    def detail(self) -> dict[str, Any] | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("detail"), dict):
            return self.body["detail"]
        return None

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{self.status}: {self.message}{where}"


class BadRequestError(ApiError):
    """400: the request was refused as it was written; nothing changed."""


class AuthenticationError(ApiError):
    """401: no token, or one the server does not accept."""


class PermissionDeniedError(ApiError):
    """403: the token's role may not do this."""


class PolicyDeniedError(PermissionDeniedError):
    """403 with a `denial`: a launch policy or a quota refused; see `.denial["rules"]`."""

    @property
    def rules(self) -> list[dict[str, Any]]:
        return list((self.denial or {}).get("rules", []))


class NotFoundError(ApiError):
    """404: no such thing (or not in the token's projects)."""


class ConflictError(ApiError):
    """409: the thing is not in a state that allows this (or a duplicate)."""


class PayloadTooLargeError(ApiError):
    """413: more bytes than the server accepts."""


class UnprocessableError(ApiError):
    """422: e.g. an idempotency key reused for a different request."""


class RateLimitError(ApiError):
    """429: too many at once; retry after `retry_after` seconds when given."""

    @property
    def retry_after(self) -> float | None:
        try:
            return float(self.headers.get("retry-after", ""))
        except ValueError:
            return None


class ServerError(ApiError):
    """5xx: the server or its runtime failed; the request id helps the operator."""


class RuntimeUnavailableError(ServerError):
    """503: the server has no runtime for this (e.g. runtime access is off)."""


class ConnectionFailedError(MboxError):
    """The server could not be reached (or the connection dropped mid-request)."""


class WaitTimeoutError(MboxError, TimeoutError):
    """A wait (for a sandbox state, a task's end) ran out of time. The thing goes on."""


class SandboxFailedError(MboxError):
    """A sandbox being waited for failed or stopped instead of reaching the state."""

    def __init__(self, message: str, sandbox: Any) -> None:
        super().__init__(message)
        self.sandbox = sandbox


class TaskFailedError(MboxError):
    """`run(..., check=True)`: the task ended other than succeeded."""

    def __init__(self, message: str, task: Any) -> None:
        super().__init__(message)
        self.task = task

    @property
    def exit_code(self) -> int | None:
        return getattr(self.task, "exit_code", None)


class DigestMismatchError(MboxError):
    """Downloaded bytes do not match the digest the server recorded."""


class CompatibilityError(MboxError):
    """The server's API version or capabilities do not suit this client; see `.result`."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.message)
        self.result = result


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableError,
    429: RateLimitError,
    503: RuntimeUnavailableError,
}


def error_for(
    status: int,
    body: Any,
    *,
    request_id: str | None,
    method: str,
    path: str,
    reason: str,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """The typed error for a refused response."""
    message = body.get("error") if isinstance(body, dict) else None
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    if status == 403 and isinstance(body, dict) and isinstance(body.get("denial"), dict):
        kind = PolicyDeniedError
    return kind(
        status,
        str(message or reason or f"HTTP {status}"),
        body=body,
        request_id=request_id,
        method=method,
        path=path,
        headers=headers,
    )
