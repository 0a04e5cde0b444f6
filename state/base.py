"""What every console state shares: the acting principal and a database session.

States call backend services only; the service layer owns authorization, policy,
quotas and audit, so the console cannot disagree with the JSON API.
"""

from __future__ import annotations

from sqlmodel import Session

from backend.auth.models import Principal
from backend.server import get_database

# The console has no login yet: every action is attributed to this principal in audit.
CONSOLE = Principal(subject="console", source="console")


def db_session() -> Session:
    """A session on the process-wide database (migrated on first use); use it with `with`."""
    return get_database().session()
