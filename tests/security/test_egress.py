"""Attacks on the network boundary from inside a sandbox: reaching the cloud metadata
service, private networks, the host's own addresses, another sandbox; and removing the
rules that stop them.

Every packet stays on this machine: the runtime runs in a network lab made of namespaces
(tests/support/netlab.py) whose "world" holds the targets; the probe
(tests/support/egress_probe.py) starts real bubblewrap sandboxes with real slirp4netns
and nftables there, and each sandbox tries every target from inside. The lab is built
once for this module and always deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import netlab

ROOT = Path(__file__).parents[2]
PRIVATE = {"private10", "private172", "private192", "cgnat", "benchmark", "world-veth"}
NEVER = {"metadata", "host", "slirp-gateway", "ipv6-link-local", "ipv6-slirp"}


@pytest.fixture(scope="module")
def report() -> dict:
    why = netlab.available()
    if why:
        pytest.skip(why)
    with netlab.NetLab() as lab:
        done = lab.run_in_host(
            [sys.executable, "-m", "tests.support.egress_probe"],
            timeout=240,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        names = (lab.host, lab.world)
    assert done.returncode == 0, done.stderr[-3000:]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)  # the lab is gone
    return json.loads(done.stdout.splitlines()[-1])


def reached(results: dict) -> set[str]:
    """The targets that answered (and said who they are)."""
    assert "error" not in results, results
    return {name for name, result in results.items() if result.startswith("reached: ")}


def test_restricted_reaches_nothing(report):
    """Attack: any connection out of a `restricted` sandbox, even with an allow list.
    Stopped by: no interface but loopback (no slirp4netns at all)."""
    assert reached(report["matrix"]["restricted"]) == set()
    assert reached(report["matrix"]["restricted+allow"]) == set()


def test_default_reaches_only_the_public_internet_and_dns(report):
    """Attack: a `default` sandbox reaches the metadata service (169.254.169.254),
    private, CGNAT and benchmark ranges, the host's own address (a server on 0.0.0.0), or
    slirp's gateway. Stopped by: nftables rules in the sandbox's network namespace, loaded
    by the runtime before slirp4netns starts; the public address and slirp's resolver
    still work."""
    results = report["matrix"]["default"]
    assert reached(results) == {"public", "dns"}
    assert results["public"] == f"reached: world {netlab.PUBLIC}"
    assert results["dns"] == f"reached: {netlab.PUBLIC}"
    assert results["metadata"] == "Connection refused"  # rejected at once, no timeout


def test_open_reaches_private_networks_but_never_the_host_or_link_local(report):
    """Attack: an `open` sandbox reaches the metadata service or the host's addresses.
    Stopped by: the rules every policy shares (host addresses, link-local, slirp's own
    network)."""
    assert reached(report["matrix"]["open"]) == {"public", "dns", *PRIVATE}


def test_allow_and_deny_lists_change_exactly_the_listed_cidrs(report):
    """A template's allow list opens the listed private CIDRs for `default` (nothing else);
    its deny list closes the listed CIDRs for `open`."""
    matrix = report["matrix"]
    assert reached(matrix["default+allow"]) == {"public", "dns", "private10", "private172"}
    assert reached(matrix["open+deny"]) == reached(matrix["open"]) - {"public", "private192"}


def test_an_allow_list_never_opens_link_local_or_the_host(report):
    """Attack: a template lists 169.254.0.0/16, the host's address and slirp's network in
    egressAllow. Stopped by: those rules come before the allow list."""
    assert reached(report["matrix"]["default+allow-host"]) == {"public", "dns"}


def test_no_policy_reaches_the_host_metadata_or_ipv6(report):
    for scenario, results in report["matrix"].items():
        assert not reached(results) & NEVER, scenario


def test_a_sandbox_cannot_reach_another_sandbox(report):
    """Attack: sandbox A looks for sandbox B's listener (on all of B's addresses) through
    slirp's gateway, the host's address, its own address and loopback. Stopped by: each
    sandbox has its own network namespace and slirp; nothing forwards into B."""
    neighbour = report["neighbour"]
    assert neighbour["itself"]["loopback"] == "reached: sandbox-b"  # B really listens
    assert reached(neighbour["other"]) == {"dns"}


def test_a_sandbox_cannot_remove_its_egress_rules(report):
    """Attack: flush the nftables ruleset (also from a new user namespace), change routes,
    addresses or tap0 from inside. Stopped by: the sandbox's processes have no
    capabilities and live in a user namespace nested below the one owning the network
    namespace. The rules are still there afterwards and still hold."""
    tamper = report["tamper"]
    assert all(code != 0 for code in tamper["attempts"].values()), tamper["attempts"]
    assert tamper["rules_kept"]
    assert reached(tamper["after"]) == {"public", "dns"}


def test_slirp4netns_runs_unprivileged_and_sandboxed(report):
    """Attack: a bug in slirp4netns (which parses every packet the sandbox sends) is a
    root process on the host. Stopped by: it runs as the sandbox's host uid, with
    --enable-sandbox (no capabilities but binding low ports, no_new_privs) and
    --enable-seccomp, with an environment of its own."""
    slirp = report["tamper"]["slirp"]
    assert set(slirp["Uid"].split()) != {"0"} and "0" not in slirp["Uid"].split()
    assert slirp["Seccomp"] == "2"
    assert slirp["NoNewPrivs"] == "1"
    assert int(slirp["CapEff"], 16) == 1 << 10  # CAP_NET_BIND_SERVICE only
    assert sorted(slirp_environ_names(report)) == ["LANG", "PATH"]


def slirp_environ_names(report: dict) -> list[str]:
    entries = report["tamper"]["slirp_environ"].split("\0")
    return [entry.split("=", 1)[0] for entry in entries if entry]


def test_without_rules_default_fails_closed(report):
    """Attack: the server cannot load rules (no root): `default` would be as open as
    `open`. Stopped by: `default` keeps loopback only and says so in its events and in
    the runtime's details; `open` still gets slirp4netns, and says it is unfiltered."""
    unfiltered = report["unfiltered"]
    assert unfiltered["availability"]["egress"] == "none"
    assert "default and restricted loopback only" in unfiltered["availability"]["network"]
    assert unfiltered["default_links"] == "1"  # loopback only
    assert "NoEgress" in unfiltered["default_events"]
    assert "EgressUnfiltered" in unfiltered["open_events"]
    assert reached(unfiltered["open"]) == {"public", "dns"}
    assert report["availability"]["egress"] == "nftables"
