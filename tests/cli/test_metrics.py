"""`mbox sandboxes metrics`: live resource use from the server's own metrics sampler (the
live server runs its engines), and windows the server refuses."""

from __future__ import annotations

import time
from typing import Any

from tests.cli.conftest import Cli

SAMPLER_WAIT_SECONDS = 30  # the server samples every 10 s


def test_metrics_of_a_running_sandbox(cli: Cli, sandbox: dict[str, Any]) -> None:
    deadline = time.monotonic() + SAMPLER_WAIT_SECONDS
    while True:
        found = cli.json("sandboxes", "metrics", sandbox["slug"], "--window", "120")
        if found.get("latest") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (found["sandboxId"], found["windowSeconds"]) == (sandbox["id"], 120)
    assert found["intervalSeconds"] == 10 and found["source"] == "cgroups"
    latest = found["latest"]
    assert latest["memoryBytes"] > 0 and latest["processes"] >= 1
    assert latest == found["samples"][-1]
    table = cli("sandboxes", "metrics", sandbox["id"], env={"COLUMNS": "200"}).out
    assert "sandboxId" in table or sandbox["id"] in table


def test_bad_windows_are_refused(cli: Cli, sandbox: dict[str, Any]) -> None:
    for window in ("0", "999999"):
        refused = cli("sandboxes", "metrics", sandbox["id"], "--window", window, code=1)
        assert "[HTTP 400]" in refused.err and "window must be" in refused.err
    assert cli("sandboxes", "metrics", sandbox["id"], "--window", "x", code=2).code == 2
