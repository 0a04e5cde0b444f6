"""Terminals and ports of a local sandbox, with real bubblewrap."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess

import pytest

from backend.runtime.base import PortUnavailable, RuntimeFailure
from backend.runtime.pty import PtyProcess
from tests.runtime.conftest import run, spec

PROMPT = "READY$ "
SERVER = """
import socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
while True:
    conn, _ = listener.accept()
    request = b""
    while b"\\r\\n\\r\\n" not in request and (chunk := conn.recv(4096)):
        request += chunk
    line = request.split(b"\\r\\n")[0]
    body = b"inside the sandbox: " + line
    head = b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body)
    conn.sendall(head + body)
    conn.close()
"""


@pytest.fixture
async def box(local):
    sandbox = spec()
    assert (await local.ensure(sandbox)).phase == "running"
    return sandbox


@pytest.fixture
async def shell(local, box):
    """An interactive sh on a 24x80 terminal, with a recognisable prompt."""
    session = await local.open_pty(
        box.sandbox_id, ["sh", "-i"], rows=24, cols=80, env={"PS1": PROMPT}
    )
    screen = Screen(session)
    await screen.expect(PROMPT)
    yield screen
    await session.close()


class Screen:
    """Everything a PTY printed so far, and a way to wait for text in it."""

    def __init__(self, session: PtyProcess) -> None:
        self.session = session
        self.text = ""

    async def expect(self, wanted: str, timeout: float = 10.0) -> str:
        """Read until `wanted` appears after what was consumed before; return the output
        up to and including it."""
        async with asyncio.timeout(timeout):
            while wanted not in self.text:
                chunk = await self.session.read()
                assert chunk, f"the terminal ended before {wanted!r}: {self.text!r}"
                self.text += chunk.decode(errors="replace")
        before, _, after = self.text.partition(wanted)
        self.text = after
        return before + wanted

    async def command(self, line: str) -> str:
        """Type a line; return what it printed before the next prompt."""
        await self.session.write(line.encode() + b"\n")
        return (await self.expect(PROMPT)).removesuffix(PROMPT)

    async def drain(self) -> str:
        """Everything up to the end (b"" from read)."""
        async with asyncio.timeout(10):
            while chunk := await self.session.read():
                self.text += chunk.decode(errors="replace")
        return self.text


async def _sandbox_processes(local, box) -> list[str]:
    _, out, _ = await run(local, box.sandbox_id, "ps -e -o args=")
    return out.splitlines()


async def _until_running(local, box, command: str) -> None:
    async with asyncio.timeout(10):
        while command not in await _sandbox_processes(local, box):
            await asyncio.sleep(0.01)


# -- terminals ------------------------------------------------------------------------


async def test_typed_input_is_echoed_and_run(shell):
    await shell.session.write(b"echo $((6 * 7))")
    assert await shell.expect("7))") == "echo $((6 * 7))"  # the terminal echoes keystrokes
    assert (await shell.command("")).splitlines() == ["", "42"]


async def test_it_is_the_controlling_terminal_with_the_given_size(shell):
    output = await shell.command("tty; echo tty=$?; stty size; id -u; echo $TERM")
    lines = [line.strip() for line in output.splitlines()[1:]]
    assert lines[0].startswith("/dev/pts/")
    assert lines[1:] == ["tty=0", "24 80", "1000", "xterm-256color"]
    # the shell leads its session, and that session's controlling terminal is this one
    tty, stat = (await shell.command("ps -o tty=,stat= -p $$")).splitlines()[1].split()
    assert f"/dev/{tty}" == lines[0] and stat.startswith("Ss")


async def test_resize_is_seen(shell):
    shell.session.resize(40, 132)
    assert (await shell.command("stty size")).splitlines()[1].strip() == "40 132"


async def test_resize_signals_the_foreground_process(local, box, shell):
    await shell.session.write(b"trap 'echo WINCH $(stty size)' WINCH; sleep 5 & wait\n")
    await _until_running(local, box, "sleep 5")  # the trap is set
    shell.session.resize(30, 90)
    await shell.expect("WINCH 30 90")


async def test_ctrl_c_interrupts_the_foreground_job(local, box, shell):
    await shell.session.write(b"sleep 100\n")
    await _until_running(local, box, "sleep 100")
    started = asyncio.get_running_loop().time()
    # The job may not own the terminal yet (the shell hands it over just after the fork);
    # until then ^C reaches the shell, which ignores it. A person presses it again.
    output = ""
    for _ in range(5):
        await shell.session.write(b"\x03")
        with contextlib.suppress(TimeoutError):
            output = await shell.expect(PROMPT, timeout=1)
            break
    assert "^C" in output  # the prompt is back: the shell lived on
    assert asyncio.get_running_loop().time() - started < 5
    assert (await shell.command("echo status=$?")).splitlines()[1].strip() == "status=130"


async def test_wait_returns_the_exit_code(shell):
    await shell.session.write(b"exit 3\n")
    assert await asyncio.wait_for(shell.session.wait(), 10) == 3
    await shell.drain()  # read() ends once the process has exited
    assert await shell.session.read() == b""


async def test_a_command_that_is_not_a_shell(local, box):
    session = await local.open_pty(box.sandbox_id, ["printf", "a\\nb"], rows=5, cols=20)
    screen = Screen(session)
    assert await session.wait() == 0
    assert (await screen.drain()) == "a\r\nb"  # the terminal turns \n into \r\n
    await session.close()


async def test_close_kills_the_whole_session(local, box, shell):
    await shell.command("sleep 1111 & nohup sleep 2222 >/dev/null 2>&1 &")
    assert await shell.command("echo started") != ""
    processes = await _sandbox_processes(local, box)
    assert "sleep 1111" in processes and "sleep 2222" in processes
    await shell.session.close()
    await shell.session.close()  # idempotent
    assert await shell.session.read() == b""
    await shell.session.write(b"ignored\n")  # dropped, no error
    processes = await _sandbox_processes(local, box)
    assert not {"sleep 1111", "sleep 2222", "sh -i"} & set(processes), processes
    assert (await local.status(box.sandbox_id)).phase == "running"  # the sandbox lives on


async def test_background_jobs_left_after_exit_die_at_close(local, box, shell):
    await shell.session.write(b"nohup sleep 3333 >/dev/null 2>&1 & exit 0\n")
    assert await asyncio.wait_for(shell.session.wait(), 10) == 0
    assert "sleep 3333" in await _sandbox_processes(local, box)
    await shell.session.close()
    assert "sleep 3333" not in await _sandbox_processes(local, box)


async def test_stopping_the_sandbox_ends_the_terminal(local, box, shell):
    await shell.command("sleep 4444 &")
    host = subprocess.run(["pgrep", "-f", "sleep 4444"], capture_output=True, text=True)
    assert host.stdout.split()
    await local.stop(box.sandbox_id)
    await shell.drain()
    assert await asyncio.wait_for(shell.session.wait(), 10) != 0
    host = subprocess.run(["pgrep", "-f", "sleep 4444"], capture_output=True, text=True)
    assert host.stdout.split() == []


async def test_open_pty_needs_a_running_sandbox(local):
    with pytest.raises(RuntimeFailure, match="not running"):
        await local.open_pty(spec().sandbox_id, ["sh"], rows=24, cols=80)


# -- ports ----------------------------------------------------------------------------


async def _http_get(sock: socket.socket, path: str) -> bytes:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.0\r\nHost: box\r\n\r\n".encode())
    response = b""
    async with asyncio.timeout(10):
        while chunk := await loop.sock_recv(sock, 65536):
            response += chunk
    return response


@pytest.fixture
async def server_box(local):
    sandbox = spec("python3", "-c", SERVER, "8000")
    await local.ensure(sandbox)
    probe = "import socket; socket.create_connection(('127.0.0.1', 8000))"
    for _ in range(500):  # until it listens
        code, _, _ = await run(local, sandbox.sandbox_id, f'python3 -c "{probe}"')
        if code == 0:
            return sandbox
        await asyncio.sleep(0.02)
    raise AssertionError("the server in the sandbox did not start")


@pytest.mark.parametrize("relay", [False, True], ids=["netns", "relay"])
async def test_connect_port_reaches_a_server_in_the_sandbox(local, server_box, relay):
    if relay:
        local._join_netns = False  # the non-root path
    sock = await local.connect_port(server_box.sandbox_id, 8000)
    try:
        assert not sock.getblocking()
        response = await _http_get(sock, "/hello")
    finally:
        sock.close()
    assert response.startswith(b"HTTP/1.0 200 OK")
    assert response.endswith(b"inside the sandbox: GET /hello HTTP/1.0")


@pytest.mark.parametrize("relay", [False, True], ids=["netns", "relay"])
async def test_a_closed_port_is_unavailable(local, box, relay):
    if relay:
        local._join_netns = False
    with pytest.raises(PortUnavailable, match="nothing is listening on port 8001 in the sandbox"):
        await local.connect_port(box.sandbox_id, 8001)


async def test_the_hosts_loopback_is_not_what_is_reached(local, box):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            pass  # the host listener is really there
        with pytest.raises(PortUnavailable):
            await local.connect_port(box.sandbox_id, port)


async def test_connect_port_needs_a_running_sandbox(local, server_box):
    await local.stop(server_box.sandbox_id)
    with pytest.raises(RuntimeFailure, match="sandbox is not running"):
        await local.connect_port(server_box.sandbox_id, 8000)
    with pytest.raises(RuntimeFailure, match="sandbox is not running"):
        await local.connect_port(spec().sandbox_id, 8000)


async def test_many_connections_in_parallel(local, server_box):
    async def fetch(n: int) -> bytes:
        sock = await local.connect_port(server_box.sandbox_id, 8000)
        with contextlib.closing(sock):
            return await _http_get(sock, f"/{n}")

    responses = await asyncio.gather(*(fetch(n) for n in range(20)))
    assert [r.endswith(f"GET /{n} HTTP/1.0".encode()) for n, r in enumerate(responses)] == [
        True
    ] * 20
