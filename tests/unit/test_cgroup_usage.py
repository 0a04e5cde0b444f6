"""What a sandbox's cgroups count, read from the files a kernel writes (v2 and v1, in a
temporary directory shaped like each): numbers, no-limit spellings, and files that are
missing or hold nonsense (None, never an error)."""

from __future__ import annotations

import uuid
from pathlib import Path

from backend.runtime.base import Limits
from backend.runtime.cgroups import Cgroups, CgroupUsage

SANDBOX = uuid.uuid4()


def _files(group: Path, contents: dict[str, str]) -> None:
    group.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (group / name).write_text(text)


def test_v2_counters_and_limits(tmp_path: Path):
    _files(
        tmp_path / str(SANDBOX),
        {
            "cpu.stat": "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n",
            "cpu.max": "50000 100000\n",
            "memory.current": "73400320\n",
            "memory.max": "536870912\n",
            "pids.current": "7\n",
            "pids.max": "256\n",
        },
    )
    found = Cgroups(2, tmp_path, tmp_path, tmp_path).usage(SANDBOX)
    assert found == CgroupUsage(1234567, 500, 73400320, 536870912, 7, 256)


def test_v2_without_limits_or_cpu_controller(tmp_path: Path):
    _files(
        tmp_path / str(SANDBOX),
        {"cpu.stat": "usage_usec 5\n", "cpu.max": "max 100000\n", "memory.max": "max\n"},
    )
    assert Cgroups(2, tmp_path, tmp_path, tmp_path).usage(SANDBOX) == CgroupUsage(cpu_usage_usec=5)
    # No cpu controller delegated: no CPU limit is claimed, the time is still counted.
    no_cpu = Cgroups(2, tmp_path, tmp_path).usage(SANDBOX)
    assert (no_cpu.cpu_usage_usec, no_cpu.cpu_limit_millicores) == (5, None)


def test_v1_counters_and_limits(tmp_path: Path):
    memory, pids, cpu, cpuacct = (tmp_path / name for name in ("memory", "pids", "cpu", "acct"))
    _files(
        memory / str(SANDBOX),
        {"memory.usage_in_bytes": "1048576\n", "memory.limit_in_bytes": "9223372036854771712\n"},
    )
    _files(pids / str(SANDBOX), {"pids.current": "3\n", "pids.max": "max\n"})
    _files(cpu / str(SANDBOX), {"cpu.cfs_quota_us": "200000\n", "cpu.cfs_period_us": "100000\n"})
    _files(cpuacct / str(SANDBOX), {"cpuacct.usage": "2500000000\n"})
    found = Cgroups(1, memory, pids, cpu, cpuacct).usage(SANDBOX)
    # v1's "unlimited" (a page-rounded 2^63 - 1) and pids "max" are no limit.
    assert found == CgroupUsage(2_500_000, 2000, 1048576, None, 3, None)
    (cpu / str(SANDBOX) / "cpu.cfs_quota_us").write_text("-1\n")
    assert Cgroups(1, memory, pids, cpu, cpuacct).usage(SANDBOX).cpu_limit_millicores is None


def test_missing_groups_and_nonsense_are_none(tmp_path: Path):
    assert Cgroups(2, tmp_path, tmp_path, tmp_path).usage(SANDBOX) == CgroupUsage()
    _files(
        tmp_path / str(SANDBOX),
        {"cpu.stat": "usage_usec lots\n", "memory.current": "-1\n", "pids.current": "x" * 10**6},
    )
    assert Cgroups(2, tmp_path, tmp_path, tmp_path).usage(SANDBOX) == CgroupUsage()


def test_v1_joins_and_prunes_its_own_cpuacct_group(tmp_path: Path):
    parents = [tmp_path / name for name in ("memory", "pids", "cpu", "acct")]
    for parent in parents:
        parent.mkdir()
    groups = Cgroups(1, *parents)
    joins = groups.create(SANDBOX, Limits(2**30, 64, 64, 2**20), cpu_millis=500)
    assert tmp_path / "acct" / str(SANDBOX) / "tasks" in joins
    groups.remove(SANDBOX)
    assert not (tmp_path / "acct" / str(SANDBOX)).exists()
