"""Escape attempts from inside a sandbox, one per test, against real bubblewrap.

Each attempt is a shell script run as a task in a running sandbox; it prints ESCAPED
only if the attack worked. The id names the attack, `stopped_by` what stops it. Other
attacks live beside this file: the environment (test_environment.py), syscalls
(test_syscall_filter.py), the network (test_egress.py), resources
(test_resource_limits.py), the terminal path (test_pty_path.py), uploads
(test_upload_races.py) and the web surface (test_web_*.py, test_proxy_*.py).

Every attack runs twice: in a sandbox on the host's read-only /usr (image `host`) and in
one whose root is an image (built once per session from a recipe: Debian with python3),
where the image's files and the overlay holding them are the targets too."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.runtime.local import LocalRuntime
from tests.runtime.conftest import run, spec
from tests.support.roots import started


@dataclass(frozen=True)
class Attempt:
    script: str
    stopped_by: str


ATTEMPTS = {
    "read-the-database": Attempt(
        "cat {data_dir}/mbox.db && echo ESCAPED",
        "the host filesystem is not mounted: only /usr and /etc, read-only",
    ),
    "list-the-data-dir": Attempt(
        "ls {data_dir} && echo ESCAPED", "the data dir is not mounted in the sandbox"
    ),
    "another-sandboxs-workspace": Attempt(
        "cat {other_workspace}/secret.txt && echo ESCAPED",
        "only the sandbox's own workspace is mounted",
    ),
    "root-home": Attempt("ls /root/ && echo ESCAPED", "/root is not mounted"),
    "write-usr": Attempt("touch /usr/bin/mbox-escape && echo ESCAPED", "/usr is read-only"),
    "write-etc": Attempt("echo x >> /etc/hostname && echo ESCAPED", "/etc is read-only"),
    "see-host-processes": Attempt(
        "test -e /proc/{server_pid}/cmdline && grep -q pytest /proc/{server_pid}/cmdline "
        "&& echo ESCAPED",
        "its own PID namespace: host processes are not in its /proc",
    ),
    "signal-the-server": Attempt(
        "kill -0 {server_pid} 2>/dev/null && grep -q pytest /proc/{server_pid}/cmdline "
        "&& echo ESCAPED",
        "its own PID namespace: the server has no pid inside",
    ),
    "ptrace-the-server": Attempt(
        "python3 -c 'import ctypes,sys; l=ctypes.CDLL(None); "
        "sys.exit(l.ptrace(16, {server_pid}, 0, 0) != 0)' && echo ESCAPED",
        "PID namespace (and the syscall filter's PTRACE_ATTACH rule)",
    ),
    "make-a-device-node": Attempt(
        "mknod /tmp/disk b 8 0 && echo ESCAPED", "no CAP_MKNOD, nodev /tmp"
    ),
    "raw-host-devices": Attempt(
        "for d in /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/vda /dev/sda /dev/loop0; do "
        "test -e $d && echo ESCAPED $d; done; true",
        "bubblewrap's minimal /dev (null, zero, full, random, urandom, tty, pts)",
    ),
    "setuid-mount": Attempt(
        "mount -t tmpfs none /tmp && echo ESCAPED",
        "no_new_privs: setuid bits are ignored; no capabilities",
    ),
    "setuid-su": Attempt("su -c id root </dev/null && echo ESCAPED", "no_new_privs; no password"),
    "chroot": Attempt("chroot / true && echo ESCAPED", "no CAP_SYS_CHROOT"),
    "hardlink-a-host-file": Attempt(
        "ln /etc/passwd ./passwd-link && echo ESCAPED",
        "/etc is another mount (EXDEV) and protected_hardlinks",
    ),
    "kernel-log": Attempt("dmesg >/dev/null 2>&1 && echo ESCAPED", "no CAP_SYSLOG"),
    "sysrq": Attempt(
        "echo h > /proc/sysrq-trigger 2>/dev/null && echo ESCAPED",
        "/proc/sysrq-trigger is owned by the host's root",
    ),
    "kernel-settings": Attempt(
        "cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname 2>/dev/null; "
        "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern 2>/dev/null "
        "&& echo ESCAPED",
        "host sysctls belong to the host's root",
    ),
    "cgroup-escape": Attempt(
        "echo $$ > /sys/fs/cgroup/cgroup.procs 2>/dev/null && echo ESCAPED",
        "/sys is not mounted; cgroup files belong to the host's root",
    ),
    "reach-the-servers-port": Attempt(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {server_port}), 2)'"
        " 2>/dev/null && echo ESCAPED",
        "its own network namespace: 127.0.0.1 is the sandbox's own loopback",
    ),
    "host-abstract-unix-socket": Attempt(
        "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); "
        's.connect("\\0{abstract_socket}")\' 2>/dev/null && echo ESCAPED',
        "abstract unix sockets belong to the network namespace",
    ),
    "write-the-image-root": Attempt(
        "touch /mbox-escape 2>/dev/null && test -d /.mbox && echo ESCAPED; true",
        "an image's root directory is root-owned (the host root's / is a private tmpfs)",
    ),
    "replace-the-toolbox": Attempt(
        "cp /bin/sh /.mbox/busybox 2>/dev/null && echo ESCAPED; "
        "test -w /.mbox/busybox && echo ESCAPED; true",
        "the static busybox is bound read-only (images only; absent on the host root)",
    ),
    "see-the-image-cache": Attempt(
        "grep -q {images_dir} /proc/self/mountinfo && ls {images_dir} && echo ESCAPED; true",
        "the overlay's layers are host paths the sandbox's mount namespace does not show",
    ),
    "host-unix-socket-file": Attempt(
        "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); "
        's.connect("{unix_socket}")\' 2>/dev/null && echo ESCAPED',
        "the data dir (where the server's own sockets would live) is not mounted",
    ),
}


@pytest.fixture
async def targets(local: LocalRuntime, tmp_path: Path, root: dict, shared_images: Path):
    """What the attacks aim at: a database file in the data dir, another sandbox's
    workspace, the server (this test process) and a socket it listens on."""
    (tmp_path / "mbox.db").write_text("secret rows")
    other = spec(**root)
    await started(local, other)
    (local.workspace(other.sandbox_id) / "secret.txt").write_text("other sandbox's secret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    abstract = f"mbox-test-{uuid.uuid4().hex}"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(f"\0{abstract}")
    unix.listen()
    unix_file = socket.socket(socket.AF_UNIX)
    unix_file.bind(str(tmp_path / "server.sock"))
    unix_file.listen()
    yield {
        "data_dir": tmp_path,
        "other_workspace": local.workspace(other.sandbox_id),
        "server_pid": os.getpid(),
        "server_port": listener.getsockname()[1],
        "abstract_socket": abstract,
        "unix_socket": tmp_path / "server.sock",
        "images_dir": shared_images,
    }
    listener.close()
    unix.close()
    unix_file.close()


@pytest.mark.parametrize("attack", ATTEMPTS, ids=list(ATTEMPTS))
async def test_escape_attempt_fails(
    local: LocalRuntime, targets: dict, root: dict, attack: str
) -> None:
    """Attack: the id. Stopped by: `ATTEMPTS[attack].stopped_by`."""
    box = spec(**root)
    await started(local, box)
    script = ATTEMPTS[attack].script.format(**targets)
    _, out, err = await run(local, box.sandbox_id, script)
    assert "ESCAPED" not in out, (ATTEMPTS[attack].stopped_by, out, err)
    assert os.getpid() == targets["server_pid"]  # and the server is still here
