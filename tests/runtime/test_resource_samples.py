"""Live resource use of local sandboxes, read from their cgroups, disks and network
namespaces with real bubblewrap sandboxes (no mocks): what a sandbox does shows up in its
samples, and nothing a sandbox does makes sampling fail."""

from __future__ import annotations

import asyncio
import uuid

from backend.runtime.local import LocalRuntime
from backend.runtime.sampling import parse_net_dev
from tests.runtime.conftest import run, spec

MIB = 1024**2


async def _started(local: LocalRuntime, *command: str, **overrides: object) -> uuid.UUID:
    sandbox = spec(*command, **overrides)
    status = await local.ensure(sandbox)
    assert status.phase == "running", status
    return sandbox.sandbox_id


async def _sample(local: LocalRuntime, sandbox_id: uuid.UUID):
    found = await local.sample([sandbox_id])
    return found[sandbox_id]


async def test_an_idle_sandbox_has_a_full_sample(local):
    sandbox_id = await _started(local)
    sample = await _sample(local, sandbox_id)
    assert sample.source == "cgroups"
    assert sample.memory_bytes and sample.memory_limit_bytes == 2 * 1024**3
    assert sample.processes is not None and sample.processes >= 1
    assert sample.process_limit == 256
    assert sample.cpu_usage_usec is not None
    assert sample.disk_limit_bytes and sample.disk_bytes is not None
    assert sample.disk_bytes < sample.disk_limit_bytes
    assert (sample.network_rx_bytes, sample.network_tx_bytes) == (0, 0)  # loopback only
    # Stopped and unknown sandboxes are simply absent.
    assert await local.sample([uuid.uuid4()]) == {}
    await local.stop(sandbox_id)
    assert await local.sample([sandbox_id]) == {}


async def test_cpu_memory_disk_and_processes_show_up(local):
    sandbox_id = await _started(local)
    before = await _sample(local, sandbox_id)
    # Burn CPU for ~0.5 s, hold 64 MiB of memory in a process that stays, write 32 MiB to
    # the workspace, and leave 5 sleepers running.
    script = (
        "python3 -c 'import time\nend = time.time() + 0.5\nwhile time.time() < end: pass'; "
        "head -c 33554432 /dev/urandom > big.bin; "
        "for i in 1 2 3 4 5; do sleep 60 >/dev/null 2>&1 & done; "
        "python3 -c 'import time; block = bytearray(64 * 1024 * 1024); "
        'block[::4096] = b"x" * len(block[::4096]); open("ready", "w"); time.sleep(60)\''
        " >/dev/null 2>&1 & while [ ! -e ready ]; do sleep 0.05; done"
    )
    code, _, stderr = await run(local, sandbox_id, script)
    assert code == 0, stderr
    after = await _sample(local, sandbox_id)
    assert after.cpu_usage_usec - before.cpu_usage_usec > 300_000  # 0.3 s of CPU at least
    assert after.memory_bytes - before.memory_bytes > 60 * MIB
    assert after.disk_bytes - before.disk_bytes > 30 * MIB
    assert after.processes >= before.processes + 6


async def test_network_bytes_count_the_sandbox_interfaces(local):
    sandbox_id = await _started(local, network="open")
    for _ in range(100):  # slirp4netns is attached in the background
        sample = await _sample(local, sandbox_id)
        code, output, _ = await run(local, sandbox_id, "cat /proc/net/dev")
        if "tap0" in output:
            break
        await asyncio.sleep(0.05)
    before = await _sample(local, sandbox_id)
    # 200 datagrams of 1000 bytes to a public address leave through tap0 (a burst that
    # outruns slirp4netns loses some in the queue: counted are those that left).
    script = (
        "python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        '[s.sendto(bytes(1000), ("192.88.99.1", 9)) for _ in range(200)]\''
    )
    code, _, stderr = await run(local, sandbox_id, script)
    assert code == 0, stderr
    after = await _sample(local, sandbox_id)
    assert after.network_tx_bytes - before.network_tx_bytes > 40 * 1000
    assert sample.network_rx_bytes is not None


async def test_a_hostile_sandbox_cannot_break_sampling(local):
    """Hundreds of processes, processes that rename themselves, its own files deleted:
    every sandbox is still sampled, and in one round."""
    hostile = await _started(local)
    calm = await _started(local)
    script = (
        "for i in $(seq 200); do sleep 60 >/dev/null 2>&1 & done; "
        'python3 -c \'import ctypes, time; ctypes.CDLL(None).prctl(15, b"lo: 1 2\\n", 0, 0, 0); '
        "time.sleep(60)' >/dev/null 2>&1 & "
        "rm -rf /workspace/* /tmp/* 2>/dev/null; true"
    )
    code, _, stderr = await run(local, hostile, script)
    assert code == 0, stderr
    found = await local.sample([hostile, calm, uuid.uuid4()])
    assert set(found) == {hostile, calm}
    assert found[hostile].processes >= 200
    assert found[calm].processes is not None and found[calm].processes < 10


def test_net_dev_parsing_is_strict():
    text = (
        "Inter-|   Receive   |  Transmit\n"
        " face |bytes packets errs drop fifo frame compressed multicast|bytes ...\n"
        "    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n"
        "  tap0: 1200 10 0 0 0 0 0 0 3400 20 0 0 0 0 0 0\n"
        "  eth1: garbage\n"
    )
    assert parse_net_dev(text) == (1200, 3400)
    assert parse_net_dev("") is None
