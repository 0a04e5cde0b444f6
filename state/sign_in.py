"""Who is using the console: the identity behind the sign-in cookie, shown in the rail.

The cookie is HttpOnly, so the browser cannot read it; the server sees it on the state
socket's handshake and names the subject it proves.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import reflex as rx

from backend.auth.service import (
    SECURE_SIGN_IN_COOKIE,
    SIGN_IN_COOKIE,
    describe_subject,
    sign_in_from_cookie,
)
from state.base import services


def sign_in_cookie(header: str) -> str | None:
    """The sign-in cookie (`__Host-` over TLS); the server has already checked that it is
    live before the state socket opened."""
    try:
        cookies = SimpleCookie(header)
    except CookieError:
        return None
    morsel = cookies.get(SECURE_SIGN_IN_COOKIE) or cookies.get(SIGN_IN_COOKIE)
    return morsel.value if morsel else None


class SignInState(rx.State):
    auth_required: bool = True
    identity: str = ""

    @rx.event
    def identify(self):
        settings = services().settings
        self.auth_required = settings.auth_required
        sign_in = sign_in_from_cookie(settings, sign_in_cookie(self.router.headers.cookie))
        self.identity = describe_subject(sign_in.subject) if sign_in else ""
