"""What every console state shares: the acting principal, a database session, and a way
to call blocking services without stalling the event loop.

States call backend services only; the service layer owns authorization, policy,
quotas and audit, so the console cannot disagree with the JSON API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import reflex as rx
from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError
from sqlmodel import Session

from backend import changes
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.server import get_services
from backend.services import Services

T = TypeVar("T")

# Console actions are attributed to this principal in audit. (With MBOX_API_TOKEN set, only
# signed-in browsers reach the console's state socket: see backend/api/console_auth.py.)
CONSOLE = Principal(subject="console", source="console")


def services() -> Services:
    """The process's services, the same the API and the engines use."""
    return get_services()


def db_session() -> Session:
    """A session on the process-wide database (migrated on first use); use it with `with`."""
    return get_services().database.session()


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
    """What a state's actions say back: a refusal in words (`error`, `role="alert"`), what
    was done (`notice`), and whether an action runs (`busy`: its buttons are disabled)."""

    error: str = ""
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
) -> Outcome:
    """The console's one way to run an action: clear the feedback fields (`clear`), mark
    the state `busy`, await the service `call` (a coroutine: `in_thread(...)` for blocking
    services), put its refusal in words into the `error` field (`failed(exc)`, else the
    service's message), or else say what was `done` and `reload` what it changed."""
    for name in clear:
        setattr(state, name, "")
    if busy:
        setattr(state, busy, True)
    try:
        value = await call
    except ServiceError as exc:
        setattr(state, error, failed(exc) if failed else exc.message)
        return Outcome(False)
    finally:
        if busy:
            setattr(state, busy, False)
    if done:
        state.notice = done
    if reload is not None:
        await reload()
    return Outcome(True, value)


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
