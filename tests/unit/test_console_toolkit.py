"""The console's toolkit in state/base.py: `attempt` (the one way an action runs) and
`change_rounds` (the watch loops' rounds)."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from backend import changes
from backend.errors import Conflict, InvalidInput
from backend.projects.models import ProjectCreate
from backend.validation import request_body
from state.base import UNEXPECTED, attempt, backend_failure, change_rounds


def feedback(**fields):
    return SimpleNamespace(error="old error", notice="old notice", busy=False, **fields)


async def test_attempt_clears_feedback_runs_the_call_and_says_it_is_done():
    state, seen, reloaded = feedback(), [], []

    async def call():
        seen.append((state.error, state.notice, state.busy))  # cleared and busy meanwhile
        return 42

    async def reload():
        reloaded.append(True)

    outcome = await attempt(state, call(), done="Saved.", reload=reload)
    assert outcome and outcome.value == 42
    assert seen == [("", "", True)]
    assert (state.error, state.notice, state.busy, reloaded) == ("", "Saved.", False, [True])


async def test_attempt_puts_a_refusal_in_words_and_reloads_nothing():
    state, reloaded = feedback(form_error=""), []

    async def refused():
        raise Conflict("sandbox must be running")

    async def reload():
        reloaded.append(True)

    outcome = await attempt(
        state, refused(), error="form_error", done="Saved.", reload=reload, clear=("notice",)
    )
    assert not outcome
    assert state.form_error == "sandbox must be running"
    assert (state.error, state.notice, state.busy, reloaded) == ("old error", "", False, [])
    worded = await attempt(state, refused(), failed=lambda exc: f"Could not save: {exc.message}")
    assert not worded and state.error == "Could not save: sandbox must be running"


async def test_a_round_comes_on_a_change_and_without_one_after_a_while():
    async with change_rounds("toolkit-test", every=0.3) as rounds:
        waiting = asyncio.ensure_future(anext(rounds))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        changes.notify("toolkit-test")
        assert await asyncio.wait_for(waiting, 1) is True  # woken by the change
        started = asyncio.get_running_loop().time()
        assert await anext(rounds) is False  # nothing changed: the tick
        assert asyncio.get_running_loop().time() - started >= 0.25


async def test_a_burst_of_changes_is_one_round_and_leaving_unsubscribes():
    async with change_rounds("toolkit-test", every=5, settle=0.1, at_once=True) as rounds:
        assert await asyncio.wait_for(anext(rounds), 1) is True  # at once
        waiting = asyncio.ensure_future(anext(rounds))
        for _ in range(5):
            changes.notify("toolkit-test")
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(waiting, 1) is True
        following = asyncio.ensure_future(anext(rounds))
        await asyncio.sleep(0.2)
        assert not following.done()  # the burst was read once
        following.cancel()  # as when the page's task is cancelled
        with contextlib.suppress(asyncio.CancelledError):
            await following
    assert not [w for w in changes._waiters if w[0] == "toolkit-test"]


async def test_attempt_places_a_refusal_at_the_field_it_names():
    state = feedback(error_field="")

    async def refused():
        raise InvalidInput("name is too long (at most 200 characters)", field="name")

    fields = {"name": "name", "exposedPorts": "ports"}
    assert not await attempt(state, refused(), fields=fields)
    assert (state.error, state.error_field) == ("name is too long (at most 200 characters)", "name")

    async def port_refused():
        raise InvalidInput("port must be 1 to 65535", field="exposedPorts[0].port")

    assert not await attempt(state, port_refused(), fields=fields)
    assert state.error_field == "ports"

    async def unnamed():
        raise InvalidInput("slug is taken", field="slug")  # a field this form does not show

    assert not await attempt(state, unnamed(), fields=fields)
    assert (state.error, state.error_field) == ("slug is taken", "")


async def test_attempt_reads_a_request_bodys_validation_error_in_words():
    state = feedback(error_field="")

    async def build():
        request_body(ProjectCreate, {"name": "x" * 5000, "defaultNamespace": "mbox-x"})

    assert not await attempt(state, build(), fields={"name": "name"})
    assert "too long" in state.error and state.error_field == "name"


async def test_attempt_says_an_unforeseen_failure_in_words_and_resets_busy(caplog):
    state = feedback(error_field="")

    async def broken():
        raise KeyError("internal-detail-42")

    outcome = await attempt(state, broken(), busy="busy")
    assert not outcome and state.busy is False
    assert state.error == UNEXPECTED and "internal-detail-42" not in state.error
    assert "internal-detail-42" in caplog.text  # logged for the operator


def test_the_apps_backstop_logs_and_speaks_in_words(caplog):
    spec = backend_failure(RuntimeError("secret-internal-path /var/x"))
    assert "secret-internal-path" in caplog.text
    rendered = str(spec)
    assert "secret-internal-path" not in rendered
    assert "Contact the website administrator" not in rendered
