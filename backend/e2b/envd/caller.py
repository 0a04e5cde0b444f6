"""Who is calling envd, for which sandbox: set by the E2B edge (backend/e2b/edge.py)
after it checked the request's sandbox access token, read by the services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from backend.auth.models import Principal
from backend.errors import (
    Conflict,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    PolicyDenied,
    RuntimeFailed,
    ServiceError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

DEFAULT_USER = "user"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    sandbox_id: uuid.UUID
    user: str = DEFAULT_USER  # E2B's `user=`: "user", or "root" when asked for


_CALLER: ContextVar[Caller] = ContextVar("e2b_envd_caller")


def current_caller() -> Caller:
    return _CALLER.get()


@contextmanager
def calling(caller: Caller) -> Iterator[None]:
    token = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(token)


# A service's refusal as the Connect code the SDK maps to its exceptions (NOT_FOUND is
# `exists() == False`, ALREADY_EXISTS `make_dir() == False`, ...).
CODES: tuple[tuple[type[ServiceError], Code], ...] = (
    (InvalidInput, Code.INVALID_ARGUMENT),
    (Unauthorized, Code.UNAUTHENTICATED),
    (PolicyDenied, Code.PERMISSION_DENIED),
    (Forbidden, Code.PERMISSION_DENIED),
    (NotFound, Code.NOT_FOUND),
    (Conflict, Code.ALREADY_EXISTS),
    (TooLarge, Code.RESOURCE_EXHAUSTED),
    (TooManyRequests, Code.RESOURCE_EXHAUSTED),
    (InsufficientStorage, Code.RESOURCE_EXHAUSTED),
    (RuntimeFailed, Code.UNAVAILABLE),
    (Unavailable, Code.UNAVAILABLE),
)


def connect_error(exc: ServiceError) -> ConnectError:
    code = next((code for kind, code in CODES if isinstance(exc, kind)), Code.INTERNAL)
    return ConnectError(code, exc.message)


@contextmanager
def as_connect_errors() -> Iterator[None]:
    """Service errors leave an RPC as Connect errors, in words."""
    try:
        yield
    except ServiceError as exc:
        raise connect_error(exc) from None
