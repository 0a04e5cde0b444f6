"""The terminal WebSocket against real sandboxes: typing, reattaching with replay, shared
terminals with hand-over, recordings, sessions, and refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.api import terminal as terminal_route
from backend.api.app import create_api
from backend.auth.models import Principal
from backend.auth.service import SIGN_IN_COOKIE, issue_sign_in
from backend.db import utcnow
from backend.principals import service as tokens
from backend.principals.models import ApiTokenCreate
from backend.sandboxes.models import SandboxRow
from backend.services import build_services
from backend.sessions.terminals import Scrollback
from tests.runtime.conftest import serving

pytestmark = pytest.mark.both_runtimes


class Term:
    """A terminal client that asked for events: it knows its terminal, role and cursor."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.output = b""
        self.events: list[dict] = []
        self.cursor = 0

    @classmethod
    async def open(cls, base: str, sandbox: dict, **query: object) -> Term:
        params = "&".join(f"{key}={value}" for key, value in {"events": 1, **query}.items())
        url = f"{base.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal?{params}"
        term = cls(await connect(url, max_size=None))
        attached = await term.event("attached")
        term.cursor = attached["cursor"]
        return term

    async def _next(self, timeout: float) -> None:
        frame = await asyncio.wait_for(self.socket.recv(), timeout)
        if isinstance(frame, bytes):
            self.output += frame
            self.cursor += len(frame)
        else:
            event = json.loads(frame)
            self.events.append(event)
            if event["type"] == "skipped":
                self.cursor += event["bytes"]

    async def event(self, kind: str, timeout: float = 10.0) -> dict:
        while not any(event["type"] == kind for event in self.events):
            await self._next(timeout)
        return next(event for event in self.events if event["type"] == kind)

    async def read_until(self, text: str, timeout: float = 10.0) -> str:
        while text.encode() not in self.output:
            await self._next(timeout)
        return self.output.decode(errors="replace")

    async def type(self, text: str) -> None:
        await self.socket.send(text)


@pytest.fixture
async def sandbox(world) -> dict:
    return await world.running_sandbox()


async def test_typing_runs_commands_and_the_session_is_recorded(world, served, sandbox):
    term = await Term.open(served, sandbox, client="pytest", rows=30, cols=100)
    assert (await term.event("attached"))["role"] == "driver"
    await term.type("echo hello-$((6*7)); stty size\n")
    screen = await term.read_until("30 100")
    assert "hello-42" in screen
    await term.socket.send(json.dumps({"type": "resize", "rows": 40, "cols": 120}))
    await term.type("stty size; exit 3\n")
    await term.read_until("40 120")
    assert (await term.event("exit"))["code"] == 3
    await term.socket.wait_closed()

    [session] = await sessions_of(world, sandbox)
    assert session["type"] == "terminal" and session["client"] == "pytest"
    assert session["status"] == "ended" and session["userAgent"].startswith("Python")
    recording = await until_recorded(world, session)
    assert recording["sizeBytes"] > 0 and not recording["truncated"]
    cast = (await world.client.get(recording["url"])).text.splitlines()
    header = json.loads(cast[0])
    assert header["version"] == 2 and (header["width"], header["height"]) == (100, 30)
    events = [json.loads(line) for line in cast[1:]]
    assert "hello-42" in "".join(data for _, kind, data in events if kind == "o")
    assert [0, "r", "120x40"] in [[0, kind, data] for _, kind, data in events]


async def test_reattach_replays_what_was_printed_while_away(served, sandbox):
    first = await Term.open(served, sandbox)
    terminal_id = (await first.event("attached"))["terminalId"]
    await first.type("(sleep 0.5; echo back-again-$((1+1))) &\n")
    await first.read_until("$ ")
    cursor = first.cursor
    await first.socket.close()
    await asyncio.sleep(1.0)  # away while the shell prints

    resumed = await Term.open(served, sandbox, terminal=terminal_id, cursor=cursor)
    assert (await resumed.event("attached"))["cursor"] == cursor
    await resumed.read_until("back-again-2")
    assert not resumed.output.startswith(b"\x1bc")  # a cursor means no redraw

    # Without a cursor (a browser that lost its screen): reset, then the whole scrollback.
    redraw = await Term.open(served, sandbox, terminal=terminal_id)
    await redraw.read_until("back-again-2")
    assert redraw.output.startswith(b"\x1bc") and b"sleep 0.5" in redraw.output


async def test_two_clients_share_a_terminal_with_hand_over(served, sandbox):
    driver = await Term.open(served, sandbox)
    terminal_id = (await driver.event("attached"))["terminalId"]
    watcher = await Term.open(served, sandbox, terminal=terminal_id, mode="watch")
    assert (await watcher.event("attached"))["role"] == "watcher"

    await watcher.type("echo from-watcher\n")  # ignored: the watcher does not drive
    await driver.type("echo from-driver-$((2*3))\n")
    await driver.read_until("from-driver-6")
    await watcher.read_until("from-driver-6")
    assert b"from-watcher" not in watcher.output + driver.output

    await watcher.socket.send(json.dumps({"type": "take-control"}))
    assert (await driver.event("role"))["role"] == "watcher"
    assert (await watcher.event("role"))["role"] == "driver"
    await watcher.type("echo handed-over-$((3*3))\n")
    await driver.read_until("handed-over-9")


async def test_a_slow_client_never_stalls_the_terminal(served, sandbox):
    fast = await Term.open(served, sandbox)
    terminal_id = (await fast.event("attached"))["terminalId"]
    slow = await connect(
        f"{served.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
        f"?terminal={terminal_id}&mode=watch&events=1",
        max_size=None,
        max_queue=1,
    )  # never reads: its socket fills up
    await fast.type(
        "head -c 6000000 /dev/zero | od -An -v | tail -c 100 >/dev/null; echo done-$((5*5))\n"
    )
    await fast.read_until("done-25", timeout=30)
    await fast.type("head -c 3000000 /dev/urandom | base64 -w 200; echo flood-$((4*4))\n")
    await fast.read_until("flood-16", timeout=60)
    await slow.close()


async def test_terminal_refusals(world, served, sandbox, settings):
    base = f"{served.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
    for url, headers, status in [
        (base, {"Origin": "http://evil.example"}, 403),
        (base + "?shell=zsh", {}, 400),
        (base + "?rows=0", {}, 400),
        (base + f"?terminal={uuid.uuid4()}x", {}, 400),
    ]:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=headers)
        assert refused.value.response.status_code == status, url
        assert json.loads(refused.value.response.body)["error"]

    same_origin = served.removeprefix("http://")
    ok = await connect(base + "?events=1", additional_headers={"Origin": f"http://{same_origin}"})
    await ok.close()

    stopped = await world.post(f"/v1/sandboxes/{sandbox['id']}/stop")
    await world.settle(stopped["id"], "stopped")
    with pytest.raises(InvalidStatus) as refused:
        await connect(base)
    assert refused.value.response.status_code == 409
    assert json.loads(refused.value.response.body) == {
        "error": "sandbox must be running before opening terminal"
    }


async def test_terminal_ends_after_the_grace_period(world, served, sandbox):
    hub = world.app.state.services.terminals
    hub._grace_seconds = 1.0
    term = await Term.open(served, sandbox)
    terminal_id = uuid.UUID((await term.event("attached"))["terminalId"])
    await term.type("echo still-here\n")
    await term.read_until("still-here")
    await term.socket.close()
    await asyncio.sleep(0.1)
    assert hub.get(terminal_id) is not None  # within the grace period it lives on
    deadline = asyncio.get_running_loop().time() + 10
    while hub.get(terminal_id) is not None:
        assert asyncio.get_running_loop().time() < deadline, "the terminal outlived its grace"
        await asyncio.sleep(0.05)
    [session] = await sessions_of(world, sandbox)
    assert (await until_recorded(world, session))["sizeBytes"] > 0


async def test_stopping_the_sandbox_closes_its_terminals(world, served, sandbox):
    term = await Term.open(served, sandbox)
    await world.post(f"/v1/sandboxes/{sandbox['id']}/stop")
    await world.settle(sandbox["id"], "stopped")
    await term.event("exit")
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(term.socket.recv(), 5)


def test_scrollback_keeps_the_newest_bytes_and_reports_skips():
    ring = Scrollback(8)
    for chunk in (b"abcd", b"efgh", b"ijkl"):
        ring.append(chunk)
    assert ring.read(0) == (b"efghijkl", 12, 4)
    assert ring.read(10) == (b"kl", 12, 0)
    assert ring.read(12) == (b"", 12, 0)
    for _ in range(100):
        ring.append(b"xyz")
    data, cursor, skipped = ring.read(0)
    assert len(data) == 8 and cursor == ring.end == 312 and skipped == 304


async def sessions_of(world, sandbox: dict) -> list[dict]:
    return (await world.get(f"/v1/sandboxes/{sandbox['id']}/sessions"))["items"]


async def until_recorded(world, session: dict, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await world.get(f"/v1/sessions/{session['id']}")
        if "recording" in current:
            return current["recording"]
        assert asyncio.get_running_loop().time() < deadline, current
        await asyncio.sleep(0.05)


async def test_browsers_authenticate_with_the_console_cookie_from_the_console_only(
    world, settings, database, runtime, sandbox
):
    secured = settings.model_copy(update={"api_token": "terminal-token"})
    app = create_api(services=build_services(secured, database, runtime))
    cookie = f"{SIGN_IN_COOKIE}={issue_sign_in(secured)}"
    async with serving(app) as base:
        url = f"{base.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
        own_origin = {"Origin": base, "Cookie": cookie}
        for headers, status in [
            ({}, 401),
            ({"Cookie": f"{SIGN_IN_COOKIE}=v2.1.token:shared.forged", "Origin": base}, 401),
            ({"Cookie": cookie, "Origin": "http://evil.example"}, 403),
            ({"Authorization": "Bearer terminal-token", "Origin": "http://evil.example"}, 403),
        ]:
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, additional_headers=headers)
            assert refused.value.response.status_code == status, headers
        for headers in (own_origin, {"Authorization": "Bearer terminal-token"}):
            socket = await connect(url + "?events=1", additional_headers=headers)
            assert json.loads(await socket.recv())["type"] == "attached"
            await socket.close()


async def test_an_ended_terminal_is_not_restarted_under_its_id(served, sandbox):
    term = await Term.open(served, sandbox)
    terminal_id = (await term.event("attached"))["terminalId"]
    await term.type("exit\n")
    await term.event("exit")
    url = (
        f"{served.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
        f"?terminal={terminal_id}"
    )
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 409
    assert json.loads(refused.value.response.body) == {
        "error": "this terminal has ended: open a new one"
    }
    # A browser cannot read an HTTP refusal: from the console's origin it gets a close
    # code that says why (4000 + status), so the console stops retrying.
    browser = await connect(url, additional_headers={"Origin": served})
    with pytest.raises(ConnectionClosed):
        await browser.recv()
    assert browser.close_code == 4409
    assert browser.close_reason == "this terminal has ended: open a new one"


async def test_a_sandbox_has_a_bounded_number_of_terminals(served, sandbox, monkeypatch):
    monkeypatch.setattr(terminal_route, "MAX_TERMINALS", 2)
    first = await Term.open(served, sandbox)
    await Term.open(served, sandbox)
    url = f"{served.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 429
    assert json.loads(refused.value.response.body) == {
        "error": "too many terminals in this sandbox (at most 2)"
    }
    terminal_id = (await first.event("attached"))["terminalId"]
    again = await Term.open(served, sandbox, terminal=terminal_id, mode="watch")
    assert (await again.event("attached"))["terminalId"] == terminal_id  # reattach still works


async def test_typing_is_activity_for_the_idle_timeout(world, served, sandbox):
    database = world.app.state.services.database
    old = utcnow() - timedelta(hours=1)
    with database.session() as db:
        db.get(SandboxRow, uuid.UUID(sandbox["id"])).last_activity_at = old
        db.commit()
    term = await Term.open(served, sandbox)
    await term.type("echo typed\n")
    await term.read_until("typed")
    deadline = asyncio.get_running_loop().time() + 5
    while (await world.get(f"/v1/sandboxes/{sandbox['id']}"))["lastActivityAt"] <= (
        old + timedelta(minutes=30)
    ).isoformat():
        assert asyncio.get_running_loop().time() < deadline, "typing was not noted as activity"
        await asyncio.sleep(0.05)


async def test_recordings_go_with_the_deleted_sandbox(world, served, sandbox, settings):
    term = await Term.open(served, sandbox)
    await term.type("exit\n")
    await term.event("exit")
    [session] = await sessions_of(world, sandbox)
    await until_recorded(world, session)
    recordings = settings.data_dir / "recordings" / sandbox["id"]
    assert list(recordings.glob("*.cast"))
    response = await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")
    assert response.status_code == 204
    await world.reconciler.reconcile_once()
    assert not recordings.exists()


async def test_a_viewer_watches_terminals_but_cannot_start_one(
    world, settings, database, runtime, sandbox
):
    """Attack: a viewer (read-only) asks to watch a terminal id that does not exist yet,
    or none at all, and the server starts a shell for it. Stopped by: starting a shell
    needs the operate permission whatever the mode; watching a live one only read-content."""
    secured = settings.model_copy(update={"api_token": "terminal-token"})
    app = create_api(services=build_services(secured, database, runtime))
    admin = Principal(subject="test-admin", role="admin")
    with database.session() as db:
        data = ApiTokenCreate.model_validate({"name": "v", "principal": "vera", "role": "viewer"})
        _, viewer = tokens.create_token(db, principal=admin, data=data)
    async with serving(app) as base:
        url = f"{base.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        for query in ("?mode=watch", f"?mode=watch&terminal={uuid.uuid4()}", ""):
            with pytest.raises(InvalidStatus) as refused:
                await connect(url + query, additional_headers=as_viewer)
            assert refused.value.response.status_code == 403, query
        owner = await connect(
            url + "?events=1", additional_headers={"Authorization": "Bearer terminal-token"}
        )
        terminal_id = json.loads(await owner.recv())["terminalId"]
        watcher = await connect(
            f"{url}?events=1&mode=watch&terminal={terminal_id}", additional_headers=as_viewer
        )
        assert json.loads(await watcher.recv())["type"] == "attached"
        await watcher.close()
        await owner.close()


async def test_the_login_shell_has_history_and_a_login_environment(served, sandbox):
    """`shell=login` (the console's): the user's login shell, else bash, started with -l
    and a terminal's environment; arrow keys reach readline (history), not ^[[A."""
    term = await Term.open(served, sandbox, shell="login")
    await term.type(
        'echo "env-$((1+1)) shell=$SHELL term=$TERM home=$HOME user=$USER lang=$LANG"; '
        "echo end-$((2+2))\n"
    )
    screen = await term.read_until("end-4")
    said = screen.split("env-2 ", 1)[1].split("\r\n", 1)[0]
    fields = dict(part.split("=", 1) for part in said.split())
    assert fields["shell"].endswith("bash") and fields["term"] == "xterm-256color", said
    assert all(fields[name] for name in ("home", "user", "lang")), said
    await term.type("shopt -q login_shell && echo login-$((2+3))\n")
    await term.read_until("login-5")
    await term.type("echo again-$((20+1))\n")
    await term.read_until("again-21")
    await term.type("\x1b[A\n")  # arrow up, enter: the last command once more
    deadline = asyncio.get_running_loop().time() + 10
    while term.output.count(b"again-21") < 2:  # printed, recalled and printed again
        assert asyncio.get_running_loop().time() < deadline, term.output[-400:]
        await term._next(10)


async def test_shell_is_one_of_three_words(served, sandbox):
    """Attack: a shell path or a word with a command in it. Only sh, bash and login are
    accepted (never a path: the value is a choice, not a command)."""
    base = f"{served.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
    for shell in ("zsh", "/bin/bash", "login;id", "LOGIN", "bash%20-c%20id", "login%0a"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{base}?shell={shell}")
        assert refused.value.response.status_code == 400, shell
        assert json.loads(refused.value.response.body) == {
            "error": "shell must be sh, bash or login"
        }
    for shell in ("", "sh", "bash"):
        term = await Term.open(served, sandbox, shell=shell)
        await term.type("echo ok-$((3*3))\n")
        await term.read_until("ok-9")
        await term.socket.close()
