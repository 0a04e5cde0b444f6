"""A network lab made of namespaces on this machine, so egress tests never send a packet
anywhere else.

    host ns (runs the runtime)  veth 10.98.0.1/30  <->  veth 10.98.0.2/30  world ns
    default route via 10.98.0.2                        targets on its loopback, /32 each

The world holds the destinations a sandbox may try: the cloud metadata address, private,
CGNAT and public-looking addresses, each answered by one TCP listener (port 8080) that
replies with the address it was reached at, and a DNS server (UDP 53) that answers every
A question with the public-looking address. The host namespace's own veth address is "a
host address": a listener on 0.0.0.0:8080 there answers `host <address>`, like a server
bound to every interface. The host namespace reads its resolv.conf from
/etc/netns/<name>/ (`ip netns exec`), pointing at the world's DNS server.

Names are unique per lab; `close()` kills the listeners and deletes both namespaces and
the resolv.conf directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

HOST_ADDRESS = "10.98.0.1"
WORLD_ADDRESS = "10.98.0.2"
PUBLIC = "203.0.113.7"  # TEST-NET-3: public-looking (no rule treats it as special)
DNS_SERVER = "203.0.113.53"
PORT = 8080
TARGETS = {
    "metadata": "169.254.169.254",
    "private10": "10.99.0.1",
    "private172": "172.16.5.1",
    "private192": "192.168.7.1",
    "cgnat": "100.64.0.1",
    "benchmark": "198.18.0.1",
    "public": PUBLIC,
}

# Inside the world: every listener in one process, replying with the address reached.
WORLD_SERVER = """
import socket, struct, sys, threading
def tcp():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(sys.argv[1])))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        conn.sendall(("world " + conn.getsockname()[0] + "\\n").encode())
        conn.close()
def dns():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", 53))
    answer = socket.inet_aton(sys.argv[2])
    while True:
        query, peer = server.recvfrom(512)
        header = query[:2] + b"\\x81\\x80" + query[4:6] + b"\\x00\\x01\\x00\\x00\\x00\\x00"
        record = b"\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04" + answer
        server.sendto(header + query[12:] + record, peer)
threading.Thread(target=dns, daemon=True).start()
print("ready", flush=True)
tcp()
"""
HOST_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(64)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(("host " + conn.getsockname()[0] + "\\n").encode())
    conn.close()
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class NetLab:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.host = f"mbox-host-{tag}"
        self.world = f"mbox-world-{tag}"
        self.etc = Path("/etc/netns") / self.host
        self._servers: list[subprocess.Popen] = []

    def start(self) -> NetLab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        _ip("netns", "add", self.host)
        _ip("netns", "add", self.world)
        veth_host, veth_world = f"vh{self.host[-8:]}", f"vw{self.host[-8:]}"
        _ip("link", "add", veth_host, "netns", self.host, "type", "veth",
            "peer", "name", veth_world, "netns", self.world)  # fmt: skip
        for ns, dev, address in ((self.host, veth_host, HOST_ADDRESS),
                                 (self.world, veth_world, WORLD_ADDRESS)):  # fmt: skip
            _ip("-n", ns, "addr", "add", f"{address}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.host, "route", "add", "default", "via", WORLD_ADDRESS)
        for address in (*TARGETS.values(), DNS_SERVER):
            _ip("-n", self.world, "addr", "add", f"{address}/32", "dev", "lo")
        _ip("-n", self.world, "route", "add", "default", "via", HOST_ADDRESS)
        self.etc.mkdir(parents=True)
        (self.etc / "resolv.conf").write_text(f"nameserver {DNS_SERVER}\n")
        self._serve(self.world, WORLD_SERVER, str(PORT), PUBLIC)
        self._serve(self.host, HOST_SERVER, str(PORT))

    def _serve(self, namespace: str, code: str, *args: str) -> None:
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", code, *args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self._servers.append(server)
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a lab listener did not start in {namespace}")

    def run_in_host(self, argv: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
        """Run `argv` in the host namespace (its own mount namespace, with the lab's
        resolv.conf)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.host, *argv],
            capture_output=True, text=True, timeout=timeout, **kwargs,
        )  # fmt: skip

    def close(self) -> None:
        for server in self._servers:
            server.kill()
            server.wait()
        for namespace in (self.host, self.world):
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)

    def __enter__(self) -> NetLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def available() -> str:
    """Why a lab cannot be built here ("" when it can)."""
    if os.geteuid() != 0:
        return "the network lab needs root"
    missing = [tool for tool in ("ip", "nft", "slirp4netns") if not shutil.which(tool)]
    return f"{', '.join(missing)} not found" if missing else ""
