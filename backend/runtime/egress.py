"""Egress rules for a local sandbox, enforced outside it.

A sandbox reaches out only through slirp4netns's tap0 (user-mode NAT: slirp opens the
real sockets in the host's network namespace). Before slirp starts, the runtime (as host
root) loads an nftables table into the sandbox's own network namespace that drops or
rejects packets leaving on tap0 for denied destinations.

The sandbox cannot change these rules: its processes run in a user namespace nested
below the one that owns its network namespace (bubblewrap's layout), with no
capabilities, so nothing they do, creating further user namespaces included, grants
CAP_NET_ADMIN over this network namespace.

Policies (IPv4 only: slirp runs without IPv6, and every IPv6 packet off loopback is
rejected):
- `restricted`: loopback only (no tap0 at all).
- `default`: the public internet only. Denied: this host (every address on its interfaces,
  read when the sandbox starts, plus 0/8 and 127/8), link-local 169.254/16 (the cloud
  metadata service), slirp's own network 10.0.2/24 (its gateway is the host), private
  10/8 172.16/12 192.168/16, CGNAT 100.64/10, benchmarking 198.18/15, multicast 224/4 and
  reserved 240/4. slirp's DNS resolver 10.0.2.3:53 always works.
- `open`: everything except this host, link-local and slirp's network.

A template's lists adjust one policy: its deny list always wins; its allow list re-opens
destinations that `default` denies (a private range, say), never this host, link-local or
slirp's network. Both are ignored under `restricted`.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
from collections.abc import Iterable
from ipaddress import IPv4Network, collapse_addresses, ip_network
from pathlib import Path

from backend.runtime import netns

TABLE = "mbox_egress"
TAP = "tap0"
DNS = "10.0.2.3"  # slirp's resolver (forwards to the host's)
NS_GET_USERNS = 0xB701  # ioctl: the user namespace that owns a namespace

LINK_LOCAL = ("169.254.0.0/16",)
THIS_HOST = ("0.0.0.0/8", "127.0.0.0/8")
SLIRP_NETWORK = ("10.0.2.0/24",)
NOT_PUBLIC = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)


class EgressError(Exception):
    """The rules could not be loaded (the message says why)."""


def networks(cidrs: Iterable[str]) -> list[IPv4Network]:
    """The IPv4 networks, merged: nftables refuses overlapping intervals in one set."""
    parsed = [ip_network(cidr, strict=False) for cidr in cidrs]
    return list(collapse_addresses(net for net in parsed if isinstance(net, IPv4Network)))


def ruleset(
    policy: str,
    *,
    host_addresses: Iterable[str] = (),
    allow: Iterable[str] = (),
    deny: Iterable[str] = (),
) -> str:
    """The nftables table for one sandbox (text for `nft -f -`). Order is precedence:
    DNS, then what is never reachable, the template's denies, its allows, the policy's."""
    lines = ['oifname "lo" accept']
    if policy in ("default", "open"):
        always = networks([*THIS_HOST, *LINK_LOCAL, *SLIRP_NETWORK, *host_addresses])
        lines += [
            f'oifname != "{TAP}" drop',
            "meta nfproto != ipv4 reject with icmpx type admin-prohibited",
            f"ip daddr {DNS} meta l4proto {{ tcp, udp }} th dport 53 accept",
            *_refuse(always),
            *_refuse(networks(deny)),
            *_verdict(networks(allow), "accept"),
        ]
        if policy == "default":
            lines += _refuse(networks(NOT_PUBLIC))
        lines.append("accept")
    body = "\n".join(f"\t\t{line}" for line in lines)
    return (
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"  # loading twice replaces, never appends
        f"table inet {TABLE} {{\n"
        "\tchain output {\n"
        "\t\ttype filter hook output priority filter; policy drop;\n"
        f"{body}\n"
        "\t}\n"
        "\tchain refuse {\n"  # fail fast: a reset or an ICMP error, never a silent drop
        "\t\tmeta l4proto tcp reject with tcp reset\n"
        "\t\treject with icmpx type admin-prohibited\n"
        "\t}\n"
        "}\n"
    )


def _refuse(nets: list[IPv4Network]) -> list[str]:
    return _verdict(nets, "goto refuse")


def _verdict(nets: list[IPv4Network], verdict: str) -> list[str]:
    if not nets:
        return []
    return [f"ip daddr {{ {', '.join(str(net) for net in nets)} }} {verdict}"]


def parse_local_addresses(fib_trie: str) -> list[str]:
    """Every address this host answers on, from /proc/net/fib_trie: the `host LOCAL`
    entries (`127.0.0.0/8` included, one /32 per interface address)."""
    found: set[str] = set()
    previous = ""
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|--"):
            previous = text[3:].strip()
        elif text.startswith("/") and "host LOCAL" in text and previous:
            found.add(f"{previous}{text.split()[0]}")
    return sorted(found)


def host_addresses() -> list[str]:
    """The addresses of the server's network namespace, read now."""
    try:
        return parse_local_addresses(Path("/proc/net/fib_trie").read_text())
    except OSError:
        return []


def supported() -> bool:
    """Whether rules can be loaded here: libnftables (Debian's nftables package)."""
    return _nftables() is not None


async def load(namespace: str, rules: str) -> None:
    """Load `rules` into the network namespace at path `namespace` (needs root). A thread of
    this process enters that namespace, loads them through libnftables and ends, taking
    the namespace with it: no process is started (on a VM, each exec costs a millisecond)
    and no other thread of the server ever runs in a sandbox's network namespace."""
    if _nftables() is None:
        raise EgressError("libnftables is not installed (apt-get install nftables)")
    try:
        await netns.in_own_thread(_load_in, namespace, rules)
    except OSError as exc:
        raise EgressError(f"the network namespace: {exc.strerror}") from None


def _load_in(netns_path: str, rules: str) -> None:
    nft = _nftables()
    assert nft is not None
    netns.enter_network(netns_path)
    context = nft.nft_ctx_new(0)  # its netlink socket opens in the namespace entered
    if not context:
        raise EgressError("libnftables could not start")
    try:
        nft.nft_ctx_buffer_output(context)
        nft.nft_ctx_buffer_error(context)
        if nft.nft_run_cmd_from_buffer(context, rules.encode()) != 0:
            errors = (nft.nft_ctx_get_error_buffer(context) or b"").decode("utf-8", "replace")
            lines = errors.strip().splitlines()
            raise EgressError(lines[0] if lines else "nft refused the rules")
    finally:
        nft.nft_ctx_free(context)


@functools.cache
def _nftables() -> ctypes.CDLL | None:
    try:
        nft = ctypes.CDLL("libnftables.so.1")
    except OSError:
        return None
    nft.nft_ctx_new.restype = ctypes.c_void_p
    nft.nft_ctx_new.argtypes = [ctypes.c_uint32]
    for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error", "nft_ctx_free"):
        getattr(nft, name).argtypes = [ctypes.c_void_p]
    nft.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    nft.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    nft.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    return nft


def owner_userns(netns_fd: int) -> int:
    """A new fd for the user namespace that owns the network namespace `netns_fd` (with
    bwrap, the parent of the sandbox's own user namespace)."""
    return fcntl.ioctl(netns_fd, NS_GET_USERNS)
