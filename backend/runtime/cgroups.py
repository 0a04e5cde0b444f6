"""Per-sandbox control groups for memory and process limits, where the host lets us.

cgroup v2 (one unified tree, `memory.max`, `pids.max`) or v1 (`memory/.../
memory.limit_in_bytes`, `pids/.../pids.max`), under an `mbox` group next to the server's
own. Processes join by writing their pid to `cgroup.procs` before they exec (see
`join_prefix`), so every descendant is counted. Without a writable hierarchy (not root,
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


@dataclass(frozen=True)
class Cgroups:
    version: int
    memory_parent: Path
    pids_parent: Path

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
            return cls(2, parent, parent)
        memory = root / "memory" / own.get("memory", "").lstrip("/") / "mbox"
        pids = root / "pids" / own.get("pids", "").lstrip("/") / "mbox"
        if _usable(memory, root) and _usable(pids, root):
            return cls(1, memory, pids)
        return None

    def create(self, sandbox_id: uuid.UUID, limits: Limits) -> list[Path]:
        """Create the sandbox's groups with its limits; return the `cgroup.procs` to join."""
        name = str(sandbox_id)
        if self.version == 2:
            group = self.memory_parent / name
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(limits.memory_bytes))
            if (group / "memory.swap.max").exists():
                (group / "memory.swap.max").write_text("0")
            (group / "pids.max").write_text(str(limits.processes))
            return [group / "cgroup.procs"]
        memory, pids = self.memory_parent / name, self.pids_parent / name
        memory.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        (pids / "pids.max").write_text(str(limits.processes))
        return [memory / "cgroup.procs", pids / "cgroup.procs"]

    def procs(self, sandbox_id: uuid.UUID) -> list[Path]:
        name = str(sandbox_id)
        if self.version == 2:
            return [self.memory_parent / name / "cgroup.procs"]
        return [
            self.memory_parent / name / "cgroup.procs",
            self.pids_parent / name / "cgroup.procs",
        ]

    def remove(self, sandbox_id: uuid.UUID) -> None:
        """Remove the groups (they must be empty: call after every process has exited)."""
        for procs in self.procs(sandbox_id):
            with contextlib.suppress(OSError):
                procs.parent.rmdir()

    def prune(self, now: float | None = None) -> None:
        """Remove empty groups left by sandboxes of a server that died (no processes remain:
        they died with it). Young groups are spared: another server on this host may have
        just made one that its sandbox has not joined yet."""
        cutoff = (time.time() if now is None else now) - PRUNE_AFTER_SECONDS
        for parent in {self.memory_parent, self.pids_parent}:
            for group in parent.iterdir() if parent.is_dir() else ():
                with contextlib.suppress(OSError):
                    if group.is_dir() and group.stat().st_mtime < cutoff:
                        group.rmdir()

    def describe(self) -> str:
        return f"cgroup v{self.version} (memory, processes)"


def join_prefix(procs: list[Path]) -> list[str]:
    """A command prefix that moves itself into the groups, then execs the rest."""
    moves = "; ".join(f'echo $$ > "{path}"' for path in procs)
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


def _enable(group: Path, controllers: tuple[str, ...]) -> None:
    control = group / "cgroup.subtree_control"
    wanted = " ".join(f"+{c}" for c in controllers)
    control.write_text(wanted)
