"""Cheap reads of what a local sandbox uses beyond its cgroups: its disk and its network.

Each is one small read from the host's side (no process started, no walk over the
sandbox's files or processes), bounded in size, and None when it cannot be read: a
sandbox that is stopping, or one that did something odd, costs a None, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_NET_DEV = 64 * 1024  # /proc/<pid>/net/dev: a line per interface
LOOPBACK = "lo"


def disk_used(volume: Path) -> int | None:
    """Bytes in use on the sandbox's own filesystem (mounted at `volume`); None unless it
    is mounted there (never the data disk's numbers)."""
    try:
        if not os.path.ismount(volume):
            return None
        found = os.statvfs(volume)
    except OSError:
        return None
    return (found.f_blocks - found.f_bfree) * found.f_frsize


def network_bytes(pid: int) -> tuple[int, int] | None:
    """Bytes received and sent by the interfaces of the network namespace `pid` is in,
    loopback left out (what stays inside the sandbox is not network use)."""
    try:
        with open(f"/proc/{pid}/net/dev", "rb") as file:
            text = file.read(MAX_NET_DEV).decode("ascii", "replace")
    except OSError:
        return None
    return parse_net_dev(text)


def parse_net_dev(text: str) -> tuple[int, int] | None:
    """Sum the receive and transmit byte columns (`iface: rx_bytes ... tx_bytes ...`)."""
    received = sent = 0
    seen = False
    for line in text.splitlines()[2:]:  # two header lines
        name, colon, counters = line.partition(":")
        fields = counters.split()
        if not colon or len(fields) < 16 or not (fields[0].isdigit() and fields[8].isdigit()):
            continue
        seen = True
        if name.strip() != LOOPBACK:
            received += int(fields[0])
            sent += int(fields[8])
    return (received, sent) if seen else None
