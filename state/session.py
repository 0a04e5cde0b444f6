"""Who is using the console: the identity behind the session cookie, shown in the rail.

The cookie is HttpOnly, so the browser cannot read it; the server sees it on the state
socket's handshake and names the subject it proves.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import reflex as rx

from backend.auth.service import SESSION_COOKIE, console_session, describe_subject
from backend.settings import get_settings


def session_cookie(header: str) -> str | None:
    try:
        morsel = SimpleCookie(header).get(SESSION_COOKIE)
    except CookieError:
        return None
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
