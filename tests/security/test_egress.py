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
import uuid
from pathlib import Path

import pytest

from backend.sandboxes.models import SandboxRow
from backend.sandboxes.service import sandbox_spec
from backend.templates.models import TemplateRow
from tests.api.conftest import Api
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


# -- template egress lists through the API --------------------------------------------


def test_templates_store_egress_lists_and_the_boundary_shows_them(client, database):
    """The lists are normalised (a bare address is a /32, duplicates once), stored,
    replaced by PATCH, passed to the runtime in the spec, and shown by the boundary."""
    api = Api(client)
    template = api.template(
        egressAllow=["10.99.0.0/16", "172.16.5.1", "10.99.0.0/16"], egressDeny=["203.0.113.0/24"]
    )
    assert template["egressAllow"] == ["10.99.0.0/16", "172.16.5.1/32"]
    assert template["egressDeny"] == ["203.0.113.0/24"]
    assert "egressDeny" not in api.template()  # empty lists are omitted
    summary = client.get(f"/v1/templates/{template['id']}/boundary").json()
    assert summary["networkPolicyProjection"] == (
        "public-internet-only" if os.geteuid() == 0 else "loopback-only"
    )
    assert summary["egressAllow"] == ["10.99.0.0/16", "172.16.5.1/32"]
    network = next(check for check in summary["checks"] if check["id"] == "network-policy")
    assert network["evidence"] == [
        "allow 10.99.0.0/16",
        "allow 172.16.5.1/32",
        "deny 203.0.113.0/24",
    ]
    sandbox = api.sandbox(api.project(), template)
    with database.session() as db:
        row = db.get(SandboxRow, uuid.UUID(sandbox["id"]))
        spec = sandbox_spec(row, db.get(TemplateRow, uuid.UUID(template["id"])))
    assert spec.egress_allow == ("10.99.0.0/16", "172.16.5.1/32")
    assert spec.egress_deny == ("203.0.113.0/24",)
    patched = client.patch(f"/v1/templates/{template['id']}", json={"egressAllow": []})
    assert patched.status_code == 200 and "egressAllow" not in patched.json()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"egressAllow": ["10.0.0.1/8"]}, 'egressAllow: "10.0.0.1/8" is not a CIDR'),
        ({"egressDeny": ["not-an-address"]}, 'egressDeny: "not-an-address" is not a CIDR'),
        ({"egressAllow": ["fd00::/8"]}, "IPv6; sandboxes have IPv4 only"),
        ({"egressDeny": [f"10.0.{n}.0/24" for n in range(65)]}, "more than 64 entries"),
        ({"egressAllow": "10.0.0.0/8"}, "invalid JSON request body"),
        ({"egressAllow": [10]}, "invalid JSON request body"),
    ],
)
def test_bad_egress_lists_are_refused(client, body, error):
    created = client.post("/v1/templates", json={"name": "t", "image": "i", **body})
    assert created.status_code == 400, created.text
    assert created.json()["error"].startswith(error) or error in created.json()["error"]
    template = Api(client).template()
    patched = client.patch(f"/v1/templates/{template['id']}", json=body)
    assert patched.status_code == 400 and error in patched.json()["error"]
