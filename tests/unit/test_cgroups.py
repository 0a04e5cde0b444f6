"""Pruning leftover sandbox groups spares groups another server has just made."""

from __future__ import annotations

import os
import time

from backend.runtime.cgroups import PRUNE_AFTER_SECONDS, Cgroups


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
