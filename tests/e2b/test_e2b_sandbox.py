"""E2B's quickstart flows through the unmodified `e2b` SDK, sync."""

from __future__ import annotations

import pytest
from e2b import Sandbox
from e2b.exceptions import AuthenticationException

from tests.e2b.conftest import E2BProject


def test_create_run_and_kill(e2b_env: E2BProject) -> None:
    sb = Sandbox.create(template=e2b_env.template, timeout=120, metadata={"suite": "e2b"})
    result = sb.commands.run("echo hello; echo oops >&2")
    assert result.stdout == "hello\n"
    assert result.stderr == "oops\n"
    assert result.exit_code == 0
    info = sb.get_info()
    assert info.sandbox_id == sb.sandbox_id
    assert info.metadata == {"suite": "e2b"}
    assert sb.is_running()
    assert sb.kill() is True
    assert not sb.is_running()


def test_streaming_callbacks_and_exit_codes(sandbox: Sandbox) -> None:
    out: list[str] = []
    result = sandbox.commands.run("for i in 1 2 3; do echo $i; done", on_stdout=out.append)
    assert "".join(out) == "1\n2\n3\n" == result.stdout
    from e2b.sandbox.commands.command_handle import CommandExitException

    with pytest.raises(CommandExitException) as failed:
        sandbox.commands.run("exit 3")
    assert failed.value.exit_code == 3


def test_background_command_with_stdin(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("cat; echo done", background=True, stdin=True)
    assert [p.pid for p in sandbox.commands.list()] == [handle.pid]
    sandbox.commands.send_stdin(handle.pid, "ping\n")
    sandbox.commands.close_stdin(handle.pid)
    result = handle.wait()
    assert result.stdout == "ping\ndone\n"
    assert sandbox.commands.list() == []


def test_kill_a_background_command_and_connect_to_one(sandbox: Sandbox) -> None:
    from e2b.sandbox.commands.command_handle import CommandExitException

    sleeper = sandbox.commands.run("echo up; sleep 600", background=True)
    again = sandbox.commands.connect(sleeper.pid)
    assert sandbox.commands.kill(sleeper.pid) is True
    with pytest.raises(CommandExitException):
        again.wait()
    assert sandbox.commands.kill(sleeper.pid) is False  # gone
    assert sandbox.commands.kill(999999) is False


def test_wrong_key_is_refused(e2b_env: E2BProject) -> None:
    with pytest.raises(AuthenticationException):
        Sandbox.create(template=e2b_env.template, api_key="mbx_not-a-real-key")


def test_unknown_template_is_not_found(e2b_env: E2BProject) -> None:
    before = {s.sandbox_id for s in Sandbox.list().next_items()}
    with pytest.raises(Exception, match="template 'no-such-template' not found"):
        Sandbox.create(template="no-such-template")
    assert {s.sandbox_id for s in Sandbox.list().next_items()} == before  # nothing half-made


def test_pty_create_input_resize_and_kill(sandbox: Sandbox) -> None:
    from e2b.sandbox.commands.command_handle import PtySize

    terminal = sandbox.pty.create(PtySize(rows=24, cols=80), cwd="/tmp", envs={"WHO": "pty"})
    sandbox.pty.resize(terminal.pid, PtySize(rows=30, cols=100))
    sandbox.pty.send_stdin(terminal.pid, b"stty size; echo $WHO in $PWD; exit 4\n")
    seen: list[bytes] = []
    from e2b.sandbox.commands.command_handle import CommandExitException

    with pytest.raises(CommandExitException) as ended:
        terminal.wait(on_pty=seen.append)
    assert ended.value.exit_code == 4
    output = b"".join(seen)
    assert b"30 100" in output and b"pty in /tmp" in output
    sleeper = sandbox.pty.create(PtySize(rows=24, cols=80))
    assert sandbox.pty.kill(sleeper.pid) is True


def test_root_is_refused_in_words(sandbox: Sandbox) -> None:
    with pytest.raises(Exception, match="one user"):
        sandbox.commands.run("id", user="root")


def test_the_default_template_is_e2bs_base(e2b_env: E2BProject, base_built: None) -> None:
    """`Sandbox.create()` with no template: E2B's `base`, played by the built-in Python
    template (built from its recipe on first use), as user `user` in /home/user."""
    sb = Sandbox.create(timeout=120)
    try:
        assert sb.get_info().template_id == "base"
        result = sb.commands.run('echo "$(id -un) $HOME $(pwd)"; python3 -c "print(6*7)"')
        assert result.stdout == "user /home/user /home/user\n42\n"
        sb.files.write("notes.txt", "mine")  # relative: in the home, which the user owns
        assert sb.commands.run("cat /home/user/notes.txt && touch ~/.hidden").stdout == "mine"
    finally:
        sb.kill()
