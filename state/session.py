"""Who is using the console: the identity behind the session cookie, shown in the rail.

The cookie is HttpOnly, so the browser cannot read it; the server sees it on the state
socket's handshake and names the subject it proves.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import reflex as rx

from backend.auth.service import (
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    console_session,
    describe_subject,
)
from backend.settings import get_settings


def session_cookie(header: str) -> str | None:
    """The session cookie (`__Host-` over TLS); the server has already checked that it is
    live before the state socket opened."""
    try:
        cookies = SimpleCookie(header)
    except CookieError:
        return None
    morsel = cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE)
    return morsel.value if morsel else None


class SessionState(rx.State):
    auth_required: bool = True
    identity: str = ""

    @rx.event
    def identify(self):
        settings = get_settings()
        self.auth_required = settings.auth_required
        session = console_session(settings, session_cookie(self.router.headers.cookie))
        self.identity = describe_subject(session.subject) if session else ""
