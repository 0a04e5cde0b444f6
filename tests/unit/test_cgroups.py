"""Pruning leftover sandbox groups spares groups another server has just made; CPU quotas
(v1 cfs, v2 cpu.max) are written as millicpus per 100 ms period."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

from backend.runtime.base import Limits
from backend.runtime.cgroups import (
    CPU_PERIOD_US,
    PRUNE_AFTER_SECONDS,
    Cgroups,
    cpu_quota_us,
    join_prefix,
)


def test_prune_removes_only_old_empty_groups(tmp_path):
    old, young, busy = tmp_path / "old", tmp_path / "young", tmp_path / "busy"
    for group in (old, young, busy):
        group.mkdir()
    (busy / "cgroup.procs").write_text("42")  # a real group with members cannot be removed
    long_ago = time.time() - PRUNE_AFTER_SECONDS - 5
    os.utime(old, (long_ago, long_ago))
    os.utime(busy, (long_ago, long_ago))

    Cgroups(2, tmp_path, tmp_path).prune()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "young"]


def test_cpu_quota_per_period():
    """1000 millicpus is one full period; the kernel's 1 ms floor; 0 means no limit."""
    assert cpu_quota_us(1000) == CPU_PERIOD_US
    assert cpu_quota_us(250) == CPU_PERIOD_US // 4
    assert cpu_quota_us(2500) == 5 * CPU_PERIOD_US // 2
    assert cpu_quota_us(1) == 1000
    assert cpu_quota_us(0) == -1


def test_v1_groups_get_the_cpu_quota_and_are_joined_and_pruned(tmp_path):
    memory, pids, cpu = (tmp_path / name for name in ("memory", "pids", "cpu"))
    for parent in (memory, pids, cpu):
        parent.mkdir()
    groups = Cgroups(1, memory, pids, cpu)
    limits = Limits(memory_bytes=1 << 30, processes=64, open_files=64, file_size_bytes=1 << 20)
    sandbox = uuid.uuid4()

    joined = groups.create(sandbox, limits, cpu_millis=500)

    assert (cpu / str(sandbox) / "cpu.cfs_quota_us").read_text() == "50000"
    assert (cpu / str(sandbox) / "cpu.cfs_period_us").read_text() == str(CPU_PERIOD_US)
    assert cpu / str(sandbox) / "tasks" in joined  # v1: joined by thread (no global lock)
    assert "CPU" in groups.describe()
    groups.create(sandbox, limits, cpu_millis=0)
    assert (cpu / str(sandbox) / "cpu.cfs_quota_us").read_text() == "-1"


def test_v2_group_gets_cpu_max(tmp_path):
    groups = Cgroups(2, tmp_path, tmp_path, tmp_path)
    limits = Limits(memory_bytes=1 << 30, processes=64, open_files=64, file_size_bytes=1 << 20)
    sandbox = uuid.uuid4()
    groups.create(sandbox, limits, cpu_millis=250)
    assert (tmp_path / str(sandbox) / "cpu.max").read_text() == f"25000 {CPU_PERIOD_US}"
    groups.create(sandbox, limits, cpu_millis=0)
    assert (tmp_path / str(sandbox) / "cpu.max").read_text() == f"max {CPU_PERIOD_US}"


def test_without_the_cpu_controller_memory_and_processes_still_apply(tmp_path):
    groups = Cgroups(1, tmp_path / "memory", tmp_path / "pids")
    for parent in (groups.memory_parent, groups.pids_parent):
        parent.mkdir()
    limits = Limits(memory_bytes=1 << 30, processes=64, open_files=64, file_size_bytes=1 << 20)
    assert len(groups.create(uuid.uuid4(), limits, cpu_millis=500)) == 2
    assert "CPU" not in groups.describe()


def test_a_command_that_cannot_join_every_group_does_not_run(tmp_path):
    """Attack: a command whose memory (or pids) join fails would run outside that limit
    while the last join (v1: cpu) succeeds. Stopped by: every join must succeed before
    the command execs."""
    unjoinable, joinable = tmp_path / "gone" / "cgroup.procs", tmp_path / "cgroup.procs"
    for procs in ([unjoinable, joinable], [joinable, unjoinable]):
        ran = subprocess.run(
            [*join_prefix(procs), "echo", "ran"], capture_output=True, text=True, check=False
        )
        assert ran.returncode != 0 and ran.stdout == "", procs
    ran = subprocess.run([*join_prefix([joinable, joinable]), "echo", "ran"], capture_output=True)
    assert ran.stdout == b"ran\n"
