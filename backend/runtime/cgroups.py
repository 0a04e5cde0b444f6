"""Per-sandbox control groups for memory, process and CPU limits, where the host lets us.

cgroup v2 (one unified tree, `memory.max`, `pids.max`, `cpu.max`) or v1 (`memory/.../
memory.limit_in_bytes`, `pids/.../pids.max`, `cpu/.../cpu.cfs_quota_us`), under an `mbox`
group next to the server's own. CPU is optional (a hierarchy without the cpu controller
still limits memory and processes); a sandbox with no CPU limit still gets its cpu group,
with no quota, so every command joins the same set of groups.

Processes join by moving themselves (writing 0) before they exec (see `join_prefix`), so
every descendant is counted. In v1 they write to `tasks`, which moves only the writing
thread (the joining shell has one): the kernel then skips the global lock that a move
by `cgroup.procs` takes, whose every use waits an RCU grace period (5-15 ms on a VM, the
largest share of a sandbox's launch). Without a writable hierarchy (not root,
no delegation) the runtime falls back to setrlimit.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from backend.runtime.base import Limits

ROOT = Path("/sys/fs/cgroup")
PRUNE_AFTER_SECONDS = 600
CPU_PERIOD_US = 100_000  # CFS quota per 100 ms: 1000 millicpus = one full CPU


@dataclass(frozen=True)
class Cgroups:
    version: int
    memory_parent: Path
    pids_parent: Path
    cpu_parent: Path | None = None

    @classmethod
    def detect(cls, root: Path = ROOT) -> Cgroups | None:
        """The hierarchy to use, if this process may create and limit groups in it."""
        if os.geteuid() != 0:
            return None
        own = _own_paths()
        if (root / "cgroup.controllers").exists():  # v2
            parent = root / "mbox"
            if not _usable(parent, root, v2=True):
                return None
            return cls(2, parent, parent, parent if _cpu_v2(root, parent) else None)
        memory = root / "memory" / own.get("memory", "").lstrip("/") / "mbox"
        pids = root / "pids" / own.get("pids", "").lstrip("/") / "mbox"
        cpu = root / "cpu" / own.get("cpu", "").lstrip("/") / "mbox"
        if _usable(memory, root) and _usable(pids, root):
            return cls(1, memory, pids, cpu if _usable(cpu, root) else None)
        return None

    def create(self, sandbox_id: uuid.UUID, limits: Limits, cpu_millis: int = 0) -> list[Path]:
        """Create the sandbox's groups with its limits (`cpu_millis` 0: no CPU limit);
        return the files to join them by."""
        name = str(sandbox_id)
        quota = cpu_quota_us(cpu_millis)
        if self.version == 2:
            group = self.memory_parent / name
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(limits.memory_bytes))
            if (group / "memory.swap.max").exists():
                (group / "memory.swap.max").write_text("0")
            (group / "pids.max").write_text(str(limits.processes))
            if self.cpu_parent is not None:
                limit = "max" if quota < 0 else str(quota)
                (group / "cpu.max").write_text(f"{limit} {CPU_PERIOD_US}")
            return self.join_files(sandbox_id)
        memory, pids = self.memory_parent / name, self.pids_parent / name
        memory.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        (pids / "pids.max").write_text(str(limits.processes))
        if self.cpu_parent is not None:
            cpu = self.cpu_parent / name
            cpu.mkdir(exist_ok=True)
            (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(quota))
        return self.join_files(sandbox_id)

    def join_files(self, sandbox_id: uuid.UUID) -> list[Path]:
        """Per group of the sandbox, the file a process writes 0 to to join it."""
        name = str(sandbox_id)
        if self.version == 2:
            return [self.memory_parent / name / "cgroup.procs"]
        parents = [self.memory_parent, self.pids_parent]
        parents += [self.cpu_parent] if self.cpu_parent is not None else []
        return [parent / name / "tasks" for parent in parents]

    def remove(self, sandbox_id: uuid.UUID) -> None:
        """Remove the groups (they must be empty: call after every process has exited)."""
        for join_file in self.join_files(sandbox_id):
            with contextlib.suppress(OSError):
                join_file.parent.rmdir()

    def groups(self) -> list[tuple[str, float]]:
        """The sandbox groups that exist: (name, modification time)."""
        parent = self.memory_parent
        found = []
        for group in parent.iterdir() if parent.is_dir() else ():
            with contextlib.suppress(OSError):
                if group.is_dir():
                    found.append((group.name, group.stat().st_mtime))
        return found

    def prune(self, now: float | None = None) -> None:
        """Remove empty groups left by sandboxes of a server that died (no processes remain:
        they died with it). Young groups are spared: another server on this host may have
        just made one that its sandbox has not joined yet."""
        cutoff = (time.time() if now is None else now) - PRUNE_AFTER_SECONDS
        for parent in {self.memory_parent, self.pids_parent, self.cpu_parent} - {None}:
            for group in parent.iterdir() if parent.is_dir() else ():
                with contextlib.suppress(OSError):
                    if group.is_dir() and group.stat().st_mtime < cutoff:
                        group.rmdir()

    def describe(self) -> str:
        limited = "memory, processes, CPU" if self.cpu_parent else "memory, processes"
        return f"cgroup v{self.version} ({limited})"


def cpu_quota_us(cpu_millis: int) -> int:
    """CFS quota per period for `cpu_millis` thousandths of a CPU; -1 for no limit. The
    kernel's floor is 1 ms per period (10 millicpus)."""
    if cpu_millis <= 0:
        return -1
    return max(1000, cpu_millis * CPU_PERIOD_US // 1000)


def join_prefix(join_files: list[Path]) -> list[str]:
    """A command prefix that moves itself into the groups, then execs the rest: only once
    every move succeeded (never outside one of its limits)."""
    moves = " && ".join(f'echo 0 > "{path}"' for path in join_files)
    return ["sh", "-c", f'{moves} && exec "$@"', "mbox-cgroup-join"]


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per controller (v1), or under "" (v2)."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") or [""]:
                paths[controller] = path
    return paths


def _usable(parent: Path, root: Path, v2: bool = False) -> bool:
    try:
        if v2:
            _enable(root, ("memory", "pids"))
        parent.mkdir(exist_ok=True)
        if v2:
            _enable(parent, ("memory", "pids"))
        return os.access(parent, os.W_OK)
    except OSError:
        return False


def _cpu_v2(root: Path, parent: Path) -> bool:
    """Whether the cpu controller can be delegated to the sandboxes' groups (v2)."""
    try:
        _enable(root, ("cpu",))
        _enable(parent, ("cpu",))
    except OSError:
        return False
    return "cpu" in (parent / "cgroup.subtree_control").read_text().split()


def _enable(group: Path, controllers: tuple[str, ...]) -> None:
    control = group / "cgroup.subtree_control"
    wanted = " ".join(f"+{c}" for c in controllers)
    control.write_text(wanted)
