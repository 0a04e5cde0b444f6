"""The egress ruleset text (backend/runtime/egress.py): pure, checked line by line, and
loaded by the real `nft` into a scratch network namespace when root can."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from types import SimpleNamespace

import pytest

from backend.reporting import boundary
from backend.runtime import egress, local

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 192.0.2.0
        /24 link UNICAST
     |-- 192.0.2.2
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 192.0.2.2
        /32 host LOCAL
     |-- 10.98.0.1
        /32 host LOCAL
"""


def _rules(text: str) -> list[str]:
    start = text.index("chain output {")
    body = text[start : text.index("chain refuse")]
    return [line.strip() for line in body.splitlines()[2:] if line.strip() not in ("", "}")]


def test_host_addresses_are_every_local_entry():
    assert egress.parse_local_addresses(FIB_TRIE) == [
        "10.98.0.1/32",
        "127.0.0.0/8",
        "127.0.0.1/32",
        "192.0.2.2/32",
    ]


def test_restricted_is_loopback_only():
    assert _rules(egress.ruleset("restricted", allow=["10.0.0.0/8"])) == ['oifname "lo" accept']


def test_default_refuses_everything_but_the_public_internet():
    rules = _rules(egress.ruleset("default", host_addresses=["192.0.2.2/32", "127.0.0.1/32"]))
    assert rules == [
        'oifname "lo" accept',
        'oifname != "tap0" drop',
        "meta nfproto != ipv4 reject with icmpx type admin-prohibited",
        "ip daddr 10.0.2.3 meta l4proto { tcp, udp } th dport 53 accept",
        "ip daddr { 0.0.0.0/8, 10.0.2.0/24, 127.0.0.0/8, 169.254.0.0/16, 192.0.2.2/32 }"
        " goto refuse",
        "ip daddr { 10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.168.0.0/16, 198.18.0.0/15,"
        " 224.0.0.0/3 } goto refuse",
        "accept",
    ]


def test_open_refuses_only_this_host_link_local_and_slirps_network():
    rules = _rules(egress.ruleset("open", host_addresses=["10.98.0.1"]))
    assert (
        "ip daddr { 0.0.0.0/8, 10.0.2.0/24, 10.98.0.1/32, 127.0.0.0/8, 169.254.0.0/16 }"
        " goto refuse" in rules
    )
    assert not any("172.16.0.0/12" in rule for rule in rules)
    assert rules[-1] == "accept"


def test_deny_wins_then_allow_then_the_policy():
    rules = _rules(
        egress.ruleset("default", allow=["10.99.0.0/16", "172.16.5.1"], deny=["203.0.113.0/24"])
    )
    deny = rules.index("ip daddr { 203.0.113.0/24 } goto refuse")
    allow = rules.index("ip daddr { 10.99.0.0/16, 172.16.5.1/32 } accept")
    private = next(i for i, rule in enumerate(rules) if "192.168.0.0/16" in rule)
    always = next(i for i, rule in enumerate(rules) if "169.254.0.0/16" in rule)
    dns = next(i for i, rule in enumerate(rules) if "th dport 53" in rule)
    assert dns < always < deny < allow < private


def test_overlapping_cidrs_are_merged():
    # nftables refuses overlapping intervals in one set
    assert egress.networks(["10.0.0.0/8", "10.1.0.0/16", "10.0.0.1", "::1/128"]) == [
        egress.ip_network("10.0.0.0/8")
    ]


@pytest.mark.skipif(
    os.geteuid() != 0 or not egress.supported() or not shutil.which("ip"),
    reason="loading rules needs root, libnftables (apt-get install nftables) and ip",
)
async def test_the_real_nft_loads_every_policy_twice():
    name = f"mbox-rules-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for policy in ("restricted", "default", "open"):
            text = egress.ruleset(
                policy, host_addresses=["127.0.0.1/32"], allow=["10.1.0.0/16"], deny=["1.2.3.4"]
            )
            for _ in range(2):  # loading again replaces the table
                await egress.load(f"/run/netns/{name}", text)
        # libnftables refuses this: its words, and the table loaded stays
        with pytest.raises(egress.EgressError, match="Error"):
            await egress.load(f"/run/netns/{name}", "table inet mbox_egress {\n\tnonsense\n}\n")
        listed = subprocess.run(
            ["ip", "netns", "exec", name, "nft", "list", "ruleset"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert listed.count("table inet mbox_egress") == 1
        assert "1.2.3.4 goto refuse" in listed
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


async def test_a_namespace_that_cannot_be_entered_is_an_error():
    with pytest.raises(egress.EgressError):
        await egress.load("/proc/self/ns/net-missing", "not a ruleset")


@pytest.mark.parametrize(
    ("policy", "slirp", "rules", "projection"),
    [
        ("restricted", True, True, "loopback-only"),
        ("default", True, True, "public-internet-only"),
        ("open", True, True, "egress-except-host-and-link-local"),
        ("default", True, False, "loopback-only"),
        ("open", True, False, "egress-through-user-mode-nat"),
        ("open", False, True, "loopback-only"),
        ("unknown", True, True, "loopback-only"),
    ],
)
def test_the_boundary_says_what_each_policy_really_gets(
    policy, slirp, rules, projection, monkeypatch
):
    """The runtime's facts per policy class (slirp4netns installed, egress rules loadable)
    and the projection the boundary names from them."""
    monkeypatch.setattr(local, "_installed", lambda tool: slirp or tool != "slirp4netns")
    network = local.LocalRuntime._network(SimpleNamespace(_filters_egress=lambda: rules))
    assert network.filter == ("nftables" if rules else "none")
    described = SimpleNamespace(network=network)
    assert boundary._network_projection(policy, described) == projection
