"""What every console state shares: the acting principal, a database session, and a way
to call blocking services without stalling the event loop.

The console acts as whoever signed in: `await acting(self)` reads the sign-in cookie the
state socket was opened with and resolves it (a primary-key read or two, in a thread) to
the principal, labelled as the console (actor its name, source console). Every service
call takes that principal, and `db_session(principal)` sees only its projects' rows.

States call backend services only; the service layer owns authorization, policy,
quotas and audit, so the console cannot disagree with the JSON API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any, TypeVar

import reflex as rx
from pydantic import ValidationError
from reflex.event import EventSpec
from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError
from sqlmodel import Session

from backend import changes
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.auth.service import (
    NOBODY,
    SECURE_SIGN_IN_COOKIE,
    SIGN_IN_COOKIE,
    console_principal,
    principal_of_sign_in,
    sign_in_from_cookie,
)
from backend.errors import Forbidden, InvalidInput, ServiceError
from backend.server import get_services
from backend.services import Services
from backend.validation import describe_errors, invalid

T = TypeVar("T")
log = logging.getLogger("mbox.console")

# What a page says when a handler fails in a way no service foresaw (a bug): the details
# go to the server's log, never to the browser.
UNEXPECTED = (
    "Something went wrong on the server and nothing was changed by this step. "
    "The details are in the server's log; try again, or tell your administrator."
)

# Who acts for a browser whose sign-in ended (signed out elsewhere, its token revoked or
# expired) while its page stayed open: nobody with no permission, seeing no project.
SIGNED_OUT = Principal(
    subject="signed-out", role="signed-out", projects=frozenset(), actor="", source="console"
)


def services() -> Services:
    """The process's services, the same the API and the engines use."""
    return get_services()


def db_session(principal: Principal) -> Session:
    """A session on the process-wide database (migrated on first use) that reads and
    writes only the principal's projects' rows; use it with `with`."""
    return get_services().database.session(principal.projects)


def sign_in_cookie(header: str) -> str | None:
    """The sign-in cookie (`__Host-` over TLS) in a Cookie header; the server has already
    checked that it is live before the state socket opened."""
    try:
        cookies = SimpleCookie(header)
    except CookieError:
        return None
    morsel = cookies.get(SECURE_SIGN_IN_COOKIE) or cookies.get(SIGN_IN_COOKIE)
    return morsel.value if morsel else None


def principal_of_cookie(cookie: str | None) -> Principal:
    """Who a sign-in cookie acts as now, labelled as the console (blocking: a read or two).
    With authentication off, nobody in particular (as admin)."""
    found = get_services()
    if not found.settings.auth_required:
        return console_principal(NOBODY)
    sign_in = sign_in_from_cookie(found.settings, cookie)
    if sign_in is None:
        return SIGNED_OUT
    with found.database.session() as db:
        principal = principal_of_sign_in(db, sign_in)
    return console_principal(principal) if principal is not None else SIGNED_OUT


async def acting(state: rx.State) -> Principal:
    """The principal the console acts as for this state's browser, resolved now (once per
    event: a sign-out or a revoked token takes effect at the next one)."""
    return await in_thread(principal_of_cookie, sign_in_cookie(state.router.headers.cookie))


def may(principal: Principal, permission: Permission) -> bool:
    """Whether the principal's role grants `permission` (what the page offers)."""
    return access.can(principal, permission)


async def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call in a worker thread: the same event loop serves every
    console tab, the JSON API and terminal WebSockets."""
    return await rx.run_in_thread(functools.partial(fn, *args, **kwargs))


@dataclasses.dataclass
class Choice:
    """An option of a select: the value sent and the words shown."""

    value: str
    label: str


class Feedback(rx.State, mixin=True):
    """What a state's actions say back: a refusal in words (`error`, `role="alert"`), the
    form field it names (`error_field`, shown next to that field instead), what was done
    (`notice`), and whether an action runs (`busy`: its buttons are disabled)."""

    error: str = ""
    error_field: str = ""
    notice: str = ""
    busy: bool = False


@dataclasses.dataclass
class Outcome:
    """How an `attempt` went: true when the call succeeded, with what it returned."""

    ok: bool
    value: Any = None

    def __bool__(self) -> bool:
        return self.ok


async def attempt(
    state: rx.State,
    call: Awaitable[Any],
    *,
    done: str = "",
    error: str = "error",
    failed: Callable[[ServiceError], str] | None = None,
    clear: Iterable[str] = ("error", "notice"),
    busy: str | None = "busy",
    reload: Callable[[], Awaitable[Any]] | None = None,
    fields: dict[str, str] | None = None,
) -> Outcome:
    """The console's one way to run an action: clear the feedback fields (`clear`), mark
    the state `busy`, await the `call` (a coroutine: `in_thread(...)` for blocking services;
    it builds its request body itself, so bad input is refused here too), put its refusal
    in words into the `error` field (`failed(exc)`, else the service's message), or else say
    what was `done` and `reload` what it changed. A refusal naming a field the form shows
    (`fields`: the service's field, camelCase, to the form's key) goes in `error_field`
    so the page shows it next to that field. Nothing else escapes: an unforeseen
    failure is logged and read as UNEXPECTED, and `busy` is always reset."""
    for name in clear:
        setattr(state, name, "")
    _set_field(state, "")
    if busy:
        setattr(state, busy, True)
    try:
        value = await call
    except (ServiceError, ValidationError) as exc:
        refused = exc if isinstance(exc, ServiceError) else invalid_input(exc)
        setattr(state, error, failed(refused) if failed else refusal(refused))
        _set_field(state, form_field(refused, fields))
        return Outcome(False)
    except Exception:  # a bug: logged, and said in words (never Reflex's own message)
        log.exception("console action failed in %s", type(state).__name__)
        setattr(state, error, UNEXPECTED)
        return Outcome(False)
    finally:
        if busy:
            setattr(state, busy, False)
    if done:
        state.notice = done
    if reload is not None:
        await reload()
    return Outcome(True, value)


def _set_field(state: rx.State, name: str) -> None:
    declared = getattr(type(state), "vars", None)  # a Reflex state's fields
    if "error_field" in (declared if declared is not None else vars(state)):
        state.error_field = name


def form_field(exc: ServiceError, fields: dict[str, str] | None) -> str:
    """The form's key for the field a refusal names (its `detail.field`: the whole path,
    else its first part), or "" when it names none the form shows."""
    named = re.sub(r"\[(\d+)\]", r".\1", str(exc.detail.get("field") or ""))
    fields = fields or {}
    return fields.get(named) or fields.get(named.split(".")[0], "")


def invalid_input(exc: ValidationError) -> InvalidInput:
    """A request body's validation error as the services and the API say it: words, and
    the field (its camelCase path) it is about."""
    return invalid(*describe_errors(exc.errors(include_url=False)))


def refusal(exc: ServiceError) -> str:
    """A service's refusal in words: a role short of a permission reads as a sentence
    ("Not allowed: the viewer role cannot ..."), anything else as the service said it."""
    if isinstance(exc, Forbidden) and exc.message.startswith("forbidden: "):
        return f"Not allowed: {exc.message.removeprefix('forbidden: ')}."
    return exc.message


def backend_failure(exception: Exception) -> EventSpec:
    """The app's backstop for an exception that escaped a handler (attempt catches the
    foreseen ones): log it, and tell the user in words, without internals."""
    log.error("console handler failed", exc_info=exception)
    return rx.toast.error(UNEXPECTED, fallback_to_alert=True, position="top-center", duration=15000)


def change_rounds(
    *topics: str, every: float, settle: float = 0.0, gap: float = 0.0, at_once: bool = False
) -> contextlib.aclosing[AsyncIterator[bool]]:
    """The rounds of a watch loop: `async with change_rounds(...) as rounds:` then
    `async for changed in rounds:`. A round comes when one of the change `topics`
    (backend/changes.py) is notified, `settle` seconds later so a burst is read once, or
    after `every` seconds without one (`changed` is False); at least `gap` seconds apart;
    the first at once with `at_once` (a change may have come before the subscription).
    Leaving the loop (or the task's cancellation) unsubscribes."""
    return contextlib.aclosing(_rounds(topics, every, settle, gap, at_once))


async def _rounds(
    topics: tuple[str, ...], every: float, settle: float, gap: float, at_once: bool
) -> AsyncIterator[bool]:
    wakeup = changes.subscribe(*topics)
    if at_once:
        wakeup.set()
    try:
        while True:
            if gap:
                await asyncio.sleep(gap)
            await wakeup.wait_at_most(every - gap)
            changed = wakeup.is_set()
            if changed and settle:
                await asyncio.sleep(settle)
            wakeup.clear()  # changes from here on wake the next round
            yield changed
    finally:
        changes.unsubscribe(wakeup)


# How long a page's watcher waits for its tab to come back (a closed laptop lid, a network
# blip) before it decides the tab was closed.
TAB_GONE_SECONDS = 600.0


class TabPresence:
    """Ends a page's background watcher once its browser tab has been gone for a while.

    A background event outlives the tab that started it: without this, every closed tab
    would leave a loop re-reading the database for as long as the server runs."""

    def __init__(self, grace: float = TAB_GONE_SECONDS) -> None:
        self.grace = grace
        self._away_since: float | None = None

    def gone(self, state: rx.State) -> bool:
        if tab_connected(state):
            self._away_since = None
            return False
        now = time.monotonic()
        if self._away_since is None:
            self._away_since = now
        return now - self._away_since >= self.grace


def tab_connected(state: rx.State) -> bool:
    """Whether the tab behind `state` has its state socket connected to this server."""
    try:
        namespace = RegistrationContext.get().app.event_namespace
    except (LookupError, ReflexRuntimeError):  # no running app: assume the tab is there
        return True
    if namespace is None:
        return True
    return state.router.session.client_token in namespace.token_to_sid
