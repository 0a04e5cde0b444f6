"""What a sandbox can and cannot reach, with real bubblewrap."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from backend.runtime.base import Limits
from backend.runtime.local import LocalRuntime
from tests.conftest import sandbox_dir
from tests.runtime.conftest import LIMITS, run, spec


@pytest.fixture
async def box(local):
    sandbox = spec()
    status = await local.ensure(sandbox)
    assert status.phase == "running"
    return sandbox


async def test_runs_as_an_unprivileged_user_with_its_env(local, box):
    code, out, _ = await run(
        local,
        box.sandbox_id,
        "id -u; echo $GREETING; pwd; cat /proc/self/status | grep -E '^(CapEff|NoNewPrivs)'",
    )
    assert code == 0
    lines = out.split("\n")
    assert lines[0] == "1000"
    assert lines[1] == "hello"
    assert lines[2] == "/workspace"
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out


async def test_host_data_is_out_of_reach(local, box, tmp_path):
    secret = tmp_path / "mbox.db"
    secret.write_text("server data")
    checks = f"""
        cat {secret} 2>/dev/null && echo READ-DB
        ls /root 2>/dev/null && echo SAW-ROOT
        cat /etc/shadow 2>/dev/null && echo READ-SHADOW
        touch /usr/evil 2>/dev/null && echo WROTE-USR
        ls {local.root} 2>/dev/null && echo SAW-SANDBOXES
        echo done
    """
    _, out, _ = await run(local, box.sandbox_id, checks)
    assert out.strip() == "done"


async def test_cannot_see_another_sandbox(local, box):
    other = spec()
    await local.ensure(other)
    await run(local, other.sandbox_id, "echo private > secret.txt")
    host_path = local.workspace(other.sandbox_id) / "secret.txt"
    assert host_path.read_text() == "private\n"
    code, out, _ = await run(local, box.sandbox_id, f"cat {host_path}")
    assert code != 0 and "private" not in out
    code, out, _ = await run(local, box.sandbox_id, "ls -A /workspace")
    assert code == 0 and out == ""


async def test_cannot_see_or_signal_host_processes(local, box):
    sleeper = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        _, out, _ = await run(
            local,
            box.sandbox_id,
            f"ps -e -o pid=,comm=; kill -9 {sleeper.pid} 2>&1; echo kill=$?",
        )
        assert "pytest" not in out and "python" not in out
        assert "kill=1" in out or "kill=2" in out
        assert sleeper.returncode is None
        processes = [line for line in out.splitlines() if line.strip() and "kill" not in line]
        assert len(processes) <= 6  # its init, main process and this shell pipeline
    finally:
        sleeper.kill()
        await sleeper.wait()


async def test_restricted_sandbox_has_no_network_but_loopback(local, box):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        _, out, _ = await run(
            local,
            box.sandbox_id,
            f'python3 -c "import socket; s=socket.socket(); s.settimeout(2); '
            f"print(s.connect_ex(('127.0.0.1', {port})))\"; ip -o link 2>/dev/null | wc -l",
        )
    lines = out.split()
    assert lines[0] != "0"  # the host's listener is unreachable
    assert lines[1] == "1"  # only the loopback interface exists


async def test_workspace_files_belong_to_the_sandbox_uid(local, box):
    code, _, _ = await run(local, box.sandbox_id, "echo data > made-inside.txt")
    assert code == 0
    path = local.workspace(box.sandbox_id) / "made-inside.txt"
    owner = path.stat().st_uid
    if os.geteuid() == 0:
        assert owner >= 200_000
    assert oct(local.workspace(box.sandbox_id).stat().st_mode)[-3:] == "700"


async def test_process_limit_applies(local, box):
    _, out, _ = await run(local, box.sandbox_id, "cat /proc/self/limits")
    limits = {line[:26].strip(): line[26:].split()[0] for line in out.splitlines()[1:]}
    assert limits["Max open files"] == "1024"
    assert limits["Max file size"] == str(64 * 1024**2)
    if "cgroup" not in local.availability().details["limits"]:  # else cgroups hold these
        assert limits["Max processes"] == "256"
        assert limits["Max address space"] == str(2 * 1024**3)


async def test_default_network_has_egress_but_not_the_hosts_loopback(local):
    sandbox = spec(network="default")
    await local.ensure(sandbox)
    _, out, _ = await run(
        local,
        sandbox.sandbox_id,
        "ip -o -4 addr show tap0 | awk '{print $4}'; ip route | head -1; "
        'python3 -c "import socket; s=socket.socket(); s.settimeout(2); '
        "print(s.connect_ex(('10.0.2.2', 22)) != 0)\"",
    )
    assert out.split("\n")[:3] == ["10.0.2.100/24", "default via 10.0.2.2 dev tap0 ", "True"]
    helper = local._boxes[sandbox.sandbox_id].network
    assert helper is not None and helper.returncode is None
    await local.stop(sandbox.sandbox_id)
    assert helper.returncode is not None  # the network helper ends with the sandbox


async def test_memory_and_process_limits_are_enforced(tmp_path):
    """cgroups when the host allows them (root here), else setrlimit: either way a sandbox
    cannot take more memory or processes than its limits."""
    limited = LocalRuntime(
        sandbox_dir(tmp_path),
        Limits(memory_bytes=128 * 1024**2, processes=64, open_files=256, file_size_bytes=1024**2),
    )
    sandbox = spec()
    try:
        await limited.ensure(sandbox)
        hog = "python3 -c \"b = bytearray(512 * 1024 * 1024); print('allocated')\""
        code, out, _ = await run(limited, sandbox.sandbox_id, hog)
        assert code != 0 and "allocated" not in out
        forks = (
            'python3 -c "import os, time\nn = 0\nfor _ in range(200):\n'
            "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            '    if pid == 0:\n        time.sleep(2)\n        os._exit(0)\n    n += 1\nprint(n)"'
        )
        _, out, _ = await run(limited, sandbox.sandbox_id, forks)
        assert 0 < int(out.strip()) < 64
        big = "head -c 2000000 /dev/zero > big.bin; echo rc=$?"
        _, out, _ = await run(limited, sandbox.sandbox_id, big)
        assert "rc=0" not in out
        if os.geteuid() == 0:
            assert "cgroup" in limited.availability().details["limits"]
    finally:
        await limited.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="distinct host uids per sandbox need root")
async def test_each_sandbox_has_a_uid_of_its_own_and_a_deleted_one_gives_it_back(tmp_path):
    """Attack: two sandboxes sharing a host uid could signal and trace each other's
    helpers. Uids are claimed atomically (a symlink per uid); a claim left by a server
    that died mid-delete is never handed out again, a deleted sandbox's is."""
    root = sandbox_dir(tmp_path)
    first, second = LocalRuntime(root, LIMITS), LocalRuntime(root, LIMITS)  # one root
    a, b, c = spec(), spec(), spec()
    try:
        await first.ensure(a)
        await second.ensure(b)
        uids = {first._uid(first._home(a.sandbox_id)), second._uid(second._home(b.sandbox_id))}
        assert len(uids) == 2
        (root / ".uids" / "200999").symlink_to("a-sandbox-whose-delete-was-cut-short")
        second._next_uid = 999  # where the search would go next
        await second.ensure(c)
        assert second._uid(second._home(c.sandbox_id)) == 201_000
        released = first._uid(first._home(a.sandbox_id))
        await first.delete(a.sandbox_id)
        assert not (root / ".uids" / str(released)).is_symlink()
        assert (root / ".uids" / "200999").is_symlink()
    finally:
        await first.close()
        await second.close()
