"""Per-sandbox control groups for memory, process and CPU limits, where the host lets us.

cgroup v2 (one unified tree, `memory.max`, `pids.max`, `cpu.max`) or v1 (`memory/.../
memory.limit_in_bytes`, `pids/.../pids.max`, `cpu/.../cpu.cfs_quota_us`), under an `mbox`
group next to the server's own. CPU is optional (a hierarchy without the cpu controller
still limits memory and processes); a sandbox with no CPU limit still gets its cpu group,
with no quota, so every command joins the same set of groups. In v1 the CPU time used is
counted by the cpuacct controller: a group there too when it is mounted on its own.

`usage` reads what a sandbox's groups count (CPU time, memory, processes, their limits):
a handful of small files, no walk over its processes, so a sandbox with thousands of them
costs the same to measure.

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
    cpuacct_parent: Path | None = None  # v1, when cpuacct is not mounted with cpu

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
        if not (_usable(memory, root) and _usable(pids, root)):
            return None
        cpu_usable = _usable(cpu, root)
        cpuacct = root / "cpuacct" / own.get("cpuacct", "").lstrip("/") / "mbox"
        separate = not (cpu_usable and (cpu / "cpuacct.usage").exists())
        own_cpuacct = cpuacct if separate and _usable(cpuacct, root) else None
        return cls(1, memory, pids, cpu if cpu_usable else None, own_cpuacct)

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
        if self.cpuacct_parent is not None:
            (self.cpuacct_parent / name).mkdir(exist_ok=True)
        return self.join_files(sandbox_id)

    def join_files(self, sandbox_id: uuid.UUID) -> list[Path]:
        """Per group of the sandbox, the file a process writes 0 to to join it."""
        name = str(sandbox_id)
        if self.version == 2:
            return [self.memory_parent / name / "cgroup.procs"]
        parents = [self.memory_parent, self.pids_parent, self.cpu_parent, self.cpuacct_parent]
        return [parent / name / "tasks" for parent in parents if parent is not None]

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
        parents = {self.memory_parent, self.pids_parent, self.cpu_parent, self.cpuacct_parent}
        for parent in parents - {None}:
            for group in parent.iterdir() if parent.is_dir() else ():
                with contextlib.suppress(OSError):
                    if group.is_dir() and group.stat().st_mtime < cutoff:
                        group.rmdir()

    def usage(self, sandbox_id: uuid.UUID) -> CgroupUsage:
        """What the sandbox's groups count now; what cannot be read is None (a group that
        is gone, a controller that is missing)."""
        name = str(sandbox_id)
        if self.version == 2:
            group = self.memory_parent / name
            cpu_max = _read(group / "cpu.max")
            return CgroupUsage(
                cpu_usage_usec=_stat(group / "cpu.stat", "usage_usec"),
                cpu_limit_millicores=_v2_cpu_limit(cpu_max) if self.cpu_parent else None,
                memory_bytes=_number(group / "memory.current"),
                memory_limit_bytes=_number(group / "memory.max"),
                processes=_number(group / "pids.current"),
                process_limit=_number(group / "pids.max"),
            )
        memory, pids = self.memory_parent / name, self.pids_parent / name
        cpu = self.cpu_parent / name if self.cpu_parent else None
        accounting = self.cpuacct_parent / name if self.cpuacct_parent else cpu
        nanoseconds = _number(accounting / "cpuacct.usage") if accounting else None
        return CgroupUsage(
            cpu_usage_usec=None if nanoseconds is None else nanoseconds // 1000,
            cpu_limit_millicores=_v1_cpu_limit(cpu) if cpu else None,
            memory_bytes=_number(memory / "memory.usage_in_bytes"),
            memory_limit_bytes=_number(memory / "memory.limit_in_bytes"),
            processes=_number(pids / "pids.current"),
            process_limit=_number(pids / "pids.max"),
        )

    def describe(self) -> str:
        limited = "memory, processes, CPU" if self.cpu_parent else "memory, processes"
        return f"cgroup v{self.version} ({limited})"


@dataclass(frozen=True)
class CgroupUsage:
    cpu_usage_usec: int | None = None  # cumulative
    cpu_limit_millicores: int | None = None  # None: no CPU limit (or no cpu controller)
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    processes: int | None = None
    process_limit: int | None = None


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


MAX_READ = 4096  # every file read here is a line or a few: a bound, whatever is there
NO_LIMIT = 1 << 62  # v1 writes "unlimited" as a page-rounded 2^63 - 1


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            return file.read(MAX_READ).decode("ascii", "replace")
    except OSError:
        return None


def _number(path: Path) -> int | None:
    """A file holding one number; "max" and v1's huge "unlimited" are None."""
    text = (_read(path) or "").strip()
    if not text.isdigit():
        return None
    value = int(text)
    return None if value >= NO_LIMIT else value


def _stat(path: Path, key: str) -> int | None:
    """One `key value` line of a flat-keyed file (cpu.stat)."""
    for line in (_read(path) or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


def _v2_cpu_limit(cpu_max: str | None) -> int | None:
    """`<quota> <period>` in microseconds, "max" for no limit."""
    quota, _, period = (cpu_max or "").strip().partition(" ")
    if not (quota.isdigit() and period.isdigit() and int(period)):
        return None
    return int(quota) * 1000 // int(period)


def _v1_cpu_limit(group: Path) -> int | None:
    quota, period = _read(group / "cpu.cfs_quota_us"), _number(group / "cpu.cfs_period_us")
    quota = (quota or "").strip()
    if not (quota.isdigit() and period):
        return None  # -1: no limit
    return int(quota) * 1000 // period


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
