"""What every console state shares: the acting principal, a database session, and a way
to call blocking services without stalling the event loop.

States call backend services only; the service layer owns authorization, policy,
quotas and audit, so the console cannot disagree with the JSON API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from sqlmodel import Session

from backend.auth.models import Principal
from backend.server import get_database

T = TypeVar("T")

# Console actions are attributed to this principal in audit. (With MBOX_API_TOKEN set, only
# signed-in browsers reach the console's state socket: see backend/api/console_auth.py.)
CONSOLE = Principal(subject="console", source="console")


def db_session() -> Session:
    """A session on the process-wide database (migrated on first use); use it with `with`."""
    return get_database().session()


async def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call in a worker thread: the same event loop serves every
    console tab, the JSON API and terminal WebSockets."""
    return await rx.run_in_thread(functools.partial(fn, *args, **kwargs))
