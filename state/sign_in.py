"""Who is using the console: the identity behind the sign-in cookie and its role, shown in
the rail, and which areas of the console that role may use.

The cookie is HttpOnly, so the browser cannot read it; the server sees it on the state
socket's handshake and names the principal it proves (state/base.py `acting`).
"""

from __future__ import annotations

import reflex as rx

from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.auth.service import describe_subject
from state.base import acting, services, sign_in_cookie

__all__ = ["SignInState", "areas_of", "sign_in_cookie"]

# The console's areas and the permission each needs to be shown in the rail.
AREA_PERMISSIONS: dict[str, Permission] = {
    "projects": Permission.READ,
    "templates": Permission.READ,
    "sandboxes": Permission.READ,
    "artifacts": Permission.READ,
    "policies": Permission.READ,
    "quotas": Permission.READ,
    "credentials": Permission.READ,
    "tokens": Permission.READ,
    "audit": Permission.AUDIT,
    "runtime": Permission.RUNTIME_READ,
}


def areas_of(principal: Principal) -> list[str]:
    """The keys of the areas the principal's role may use."""
    held = access.permissions(principal.role)
    return [key for key, needed in AREA_PERMISSIONS.items() if needed in held]


def scope_words(principal: Principal) -> str:
    if principal.projects is None:
        return "All projects"
    count = len(principal.projects)
    return f"{count} project{'s' if count != 1 else ''}"


class SignInState(rx.State):
    auth_required: bool = True
    identity: str = ""
    role: str = ""
    scope: str = ""
    # The rail's areas this principal may use, and what its role may do (both empty until
    # `identify` has run: nothing is offered before it is known).
    areas: list[str] = []
    permissions: list[str] = []

    @rx.var
    def can_operate(self) -> bool:
        return Permission.OPERATE.value in self.permissions

    @rx.var
    def can_govern(self) -> bool:
        return Permission.GOVERN.value in self.permissions

    @rx.var
    def can_audit(self) -> bool:
        return Permission.AUDIT.value in self.permissions

    @rx.var
    def can_manage_tokens(self) -> bool:
        return Permission.MANAGE_TOKENS.value in self.permissions

    @rx.var
    def can_cleanup(self) -> bool:
        return Permission.RUNTIME_CLEANUP.value in self.permissions

    @rx.var
    def can_read_content(self) -> bool:
        return Permission.READ_CONTENT.value in self.permissions

    @rx.event
    async def identify(self):
        self.auth_required = services().settings.auth_required
        principal = await acting(self)
        signed_in = principal.role in access.ROLES
        self.identity = describe_subject(principal.subject) if signed_in else ""
        self.role = principal.role if signed_in else ""
        self.scope = scope_words(principal)
        self.areas = areas_of(principal)
        self.permissions = sorted(access.permissions(principal.role))
