"""Errors raised by services; the API maps each to its status code and `{"error": ...}` body.

The message is what a user reads, so it says what was wrong in words. `detail` may add
structured context (the rule that denied, the limit hit) but never replaces the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ServiceError(Exception):
    status_code = 500
    default_message = "internal server error"

    def __init__(self, message: str | None = None, **detail: Any) -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)


class InvalidInput(ServiceError):
    status_code = 400
    default_message = "invalid request"


class Unauthorized(ServiceError):
    status_code = 401
    default_message = "missing or invalid bearer token"


@dataclass(frozen=True)
class DeniedRule:
    """One rule a change broke: the policy field (`allowedImagePrefixes`, `maxCpu`, ...),
    the offending value, the reason in words and, for quotas, the limit, the usage
    before the change and what it asked for; `sandbox_id` when it names one sandbox."""

    rule: str
    message: str
    value: Any = None
    limit: Any = None
    current: Any = None
    requested: Any = None
    sandbox_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        wire = {"rule": self.rule, "value": self.value, "message": self.message}
        extra = {"limit": self.limit, "current": self.current, "requested": self.requested}
        wire |= {name: value for name, value in extra.items() if value is not None}
        return wire | ({"sandboxId": self.sandbox_id} if self.sandbox_id else {})


class PolicyDenied(ServiceError):
    """A launch policy or quota refusal: the reference's message, and `denial` (the
    operation and every rule it broke) for programs."""

    status_code = 403

    def __init__(self, rules: list[DeniedRule], *, operation: str) -> None:
        self.rules = rules
        self.operation = operation
        self.reasons = [rule.message for rule in rules]
        super().__init__("policy denied: " + "; ".join(self.reasons))

    @property
    def denial(self) -> dict[str, Any]:
        return {"operation": self.operation, "rules": [rule.to_json() for rule in self.rules]}


class Forbidden(ServiceError):
    status_code = 403
    default_message = "forbidden"


class NotFound(ServiceError):
    status_code = 404
    default_message = "resource not found"


class Conflict(ServiceError):
    status_code = 409
    default_message = "resource conflict"


class TooLarge(ServiceError):
    status_code = 413
    default_message = "request body is too large"


class RangeNotSatisfiable(ServiceError):
    status_code = 416
    default_message = "requested range is not satisfiable"

    def __init__(self, message: str | None = None, *, size: int) -> None:
        super().__init__(message)
        self.size = size  # of the whole content (the API answers `Content-Range: bytes */size`)


class TooManyRequests(ServiceError):
    status_code = 429
    default_message = "too many requests"


class RuntimeFailed(ServiceError):
    status_code = 502
    default_message = "runtime error"


class InsufficientStorage(ServiceError):
    """A write found no room: a sandbox's disk quota, or the server's data disk, is full.
    Nothing already stored is lost; the server keeps serving."""

    status_code = 507
    default_message = "no space left on the server's data disk"


class StorageFailed(ServiceError):
    """Stored content is missing, corrupted or unreachable (the contract's 500s)."""

    status_code = 500
    default_message = "retained artifact content storage error"


class Unavailable(ServiceError):
    status_code = 503
    default_message = "service unavailable"
