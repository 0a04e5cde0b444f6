"""Egress probe: run inside a NetLab's host namespace (`ip netns exec <host> python -m
tests.support.egress_probe`). A real LocalRuntime starts sandboxes under each policy and
each tries every lab target from inside (2 s timeouts); prints one JSON object:

    {"matrix": {scenario: {target: "reached: <who answered>" | <error>}},
     "tamper": {attempt: exit code}, "after_tamper": {...}, "rules_kept": bool,
     "slirp": {"uid": ..., "seccomp": ..., ...}, "neighbour": {...},
     "unfiltered": {...}}
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from backend.runtime.local import LocalRuntime
from tests.conftest import sandbox_dir
from tests.runtime.conftest import LIMITS, run, spec
from tests.support.netlab import HOST_ADDRESS, PORT, TARGETS, WORLD_ADDRESS

NEIGHBOUR_PORT = 8081
DESTINATIONS = {
    **{name: [address, PORT] for name, address in TARGETS.items()},
    "world-veth": [WORLD_ADDRESS, PORT],
    "host": [HOST_ADDRESS, PORT],
    "slirp-gateway": ["10.0.2.2", PORT],
    "ipv6-link-local": ["fe80::2%tap0", PORT],
    "ipv6-slirp": ["fd00::2", PORT],
}
SCENARIOS = {
    "restricted": {"network": "restricted"},
    "default": {"network": "default"},
    "open": {"network": "open"},
    "default+allow": {"network": "default", "egress_allow": ("10.99.0.0/16", "172.16.5.1/32")},
    "open+deny": {"network": "open", "egress_deny": ("203.0.113.0/24", "192.168.0.0/16")},
    # an allow list never opens link-local or this host's addresses
    "default+allow-host": {
        "network": "default",
        "egress_allow": ("169.254.0.0/16", f"{HOST_ADDRESS}/32", "10.0.2.0/24"),
    },
    "restricted+allow": {"network": "restricted", "egress_allow": ("0.0.0.0/0",)},
}
# Inside the sandbox: connect to every destination at once; ask slirp's resolver too.
PROBE = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def tcp(host, port):
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as e:
        return e.strerror or type(e).__name__
    s = socket.socket(info[0], socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(info[4])
        return "reached: " + s.recv(100).decode().strip()
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return e.strerror or type(e).__name__
    finally:
        s.close()
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    question = b"\x05probe\x04mbox\x04test\x00\x00\x01\x00\x01"
    query = bytes.fromhex("123401000001000000000000") + question
    try:
        s.sendto(query, ("10.0.2.3", 53))
        return "reached: " + socket.inet_ntoa(s.recv(512)[-4:])
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return e.strerror or type(e).__name__
targets = json.loads(sys.argv[1])
with ThreadPoolExecutor(len(targets) + 1) as pool:
    futures = {name: pool.submit(tcp, *where) for name, where in targets.items()}
    futures["dns"] = pool.submit(dns)
    print(json.dumps({name: future.result() for name, future in futures.items()}))
"""
TAMPER = {
    "nft flush ruleset": "nft flush ruleset",
    "nft in a new user namespace": "unshare -Ur nft flush ruleset",
    "ip route del default": "ip route del default",
    "ip route add metadata": "ip route add 169.254.169.254/32 via 10.0.2.2",
    "ip link set tap0 down": "ip link set tap0 down",
    "ip addr add": "ip addr add 10.98.0.1/32 dev lo",
}
LISTEN = """
import socket
s = socket.socket()
s.bind(("0.0.0.0", {port}))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(b"sandbox-b\\n")
    c.close()
"""


async def probe(runtime: LocalRuntime, sandbox_id, destinations=DESTINATIONS) -> dict:
    code, out, err = await run(
        runtime, sandbox_id, f"python3 -c {_quote(PROBE)} {_quote(json.dumps(destinations))}"
    )
    if code != 0:
        return {"error": err.strip()[-500:]}
    return json.loads(out)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key: fields[key].strip() for key in ("Uid", "Seccomp", "NoNewPrivs", "CapEff")}


async def matrix(runtime: LocalRuntime) -> dict:
    boxes = {name: spec(**fields) for name, fields in SCENARIOS.items()}
    for box in boxes.values():
        await runtime.ensure(box)
    results = await asyncio.gather(*(probe(runtime, box.sandbox_id) for box in boxes.values()))
    return dict(zip(boxes, results, strict=True))


async def tamper(runtime: LocalRuntime) -> dict:
    box = spec(network="default")
    await runtime.ensure(box)
    attempts = {}
    for name, command in TAMPER.items():
        attempts[name] = (await run(runtime, box.sandbox_id, command))[0]
    after = await probe(runtime, box.sandbox_id)
    init = runtime._boxes[box.sandbox_id].init_pid
    listed = await asyncio.create_subprocess_exec(
        "nsenter", f"--net=/proc/{init}/ns/net", "nft", "list", "table", "inet", "mbox_egress",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    rules = (await listed.communicate())[0].decode()
    slirp = runtime._boxes[box.sandbox_id].network
    return {
        "attempts": attempts,
        "after": after,
        "rules_kept": "169.254.0.0/16" in rules,
        "slirp": _status(slirp.pid) if slirp else {},
        "slirp_environ": Path(f"/proc/{slirp.pid}/environ").read_bytes().decode() if slirp else "",
    }


async def neighbour(runtime: LocalRuntime) -> dict:
    """Sandbox B listens on every address; sandbox A looks for it wherever it could be."""
    b, a = spec(network="open"), spec(network="open")
    await runtime.ensure(b)
    await runtime.ensure(a)
    listener = await runtime.exec(
        b.sandbox_id, ["python3", "-c", LISTEN.format(port=NEIGHBOUR_PORT)]
    )
    for _ in range(40):  # until B's listener is up (python starting on a busy machine)
        itself = await probe(runtime, b.sandbox_id, {"loopback": ["127.0.0.1", NEIGHBOUR_PORT]})
        if itself.get("loopback", "").startswith("reached"):
            break
        await asyncio.sleep(0.25)
    where = {
        "slirp-gateway": ["10.0.2.2", NEIGHBOUR_PORT],
        "own-address": ["10.0.2.100", NEIGHBOUR_PORT],
        "host": [HOST_ADDRESS, NEIGHBOUR_PORT],
        "loopback": ["127.0.0.1", NEIGHBOUR_PORT],
    }
    results = await probe(runtime, a.sandbox_id, where)
    listener.signal(9)
    await listener.wait()
    return {"itself": itself, "other": results}


async def unfiltered(root: Path) -> dict:
    """A runtime that cannot load rules (as without root): default keeps loopback only,
    open still gets slirp."""
    runtime = LocalRuntime(root, LIMITS)
    runtime._filters_egress = lambda: False  # what a server without root finds
    try:
        default, open_ = spec(network="default"), spec(network="open")
        await runtime.ensure(default)
        await runtime.ensure(open_)
        links = (await run(runtime, default.sandbox_id, "ip -o link | wc -l"))[1].strip()
        return {
            "availability": dict(runtime.availability().details),
            "default_links": links,
            "default_events": [e.reason for e in await runtime.events(default.sandbox_id)],
            "open_events": [e.reason for e in await runtime.events(open_.sandbox_id)],
            "open": await probe(runtime, open_.sandbox_id, {"public": DESTINATIONS["public"]}),
        }
    finally:
        await runtime.close()


async def main() -> None:
    root = sandbox_dir(Path(tempfile.mkdtemp(prefix="mbox-egress-")))
    runtime = LocalRuntime(root, LIMITS)
    try:
        report = {
            "availability": dict(runtime.availability().details),
            "matrix": await matrix(runtime),
            "tamper": await tamper(runtime),
            "neighbour": await neighbour(runtime),
        }
    finally:
        await runtime.close()
    try:
        report["unfiltered"] = await unfiltered(root)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
