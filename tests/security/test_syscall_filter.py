"""Attacks on the kernel from inside a sandbox: the syscalls container escapes start with
(nested user namespaces, mounts, keys, bpf, perf, userfaultfd, io_uring, kexec, modules,
ptrace of pid 1, vsock to the hypervisor, other ABIs), each made for real with ctypes
from python3: the host's (image `host`) and an image's own (tests/support/roots.py).

What stops them: the seccomp filter of backend/runtime/seccomp.py, on bwrap's pid 1 and
its tree (`--seccomp`, plus `--disable-userns`) and installed before exec in every task
and terminal that joins the sandbox with nsenter."""

from __future__ import annotations

import asyncio
import platform

import pytest

from backend.runtime import seccomp
from backend.runtime.base import RuntimeFailure
from backend.runtime.local import LocalRuntime
from tests.conftest import sandbox_dir
from tests.runtime.conftest import LIMITS, run, spec
from tests.support.roots import started

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
KEY_SPEC_SESSION_KEYRING = -3
UFFD_USER_MODE_ONLY = 1
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16
READ_IMPLIES_EXEC = 0x0400000
AF_VSOCK, SOCK_STREAM = 40, 1
SIGSYS_EXIT = 128 + 31  # the shell's status for a process killed by SIGSYS

# `python3 -c PROBE <syscall number> <int args...>` prints "ok" or the errno's name.
# "clone_args FLAGS" stands for a pointer to clone3's struct clone_args.
PROBE = r"""
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
number, *args = sys.argv[1:]
forks = args[:1] == ["clone_args"]
if forks:  # flags, pidfd, child_tid, parent_tid, exit_signal=SIGCHLD, stack, size, tls
    block = (ctypes.c_uint64 * 8)(int(args[1]), 0, 0, 0, 17, 0, 0, 0)
    args = [ctypes.addressof(block), ctypes.sizeof(block)]
result = libc.syscall(ctypes.c_long(int(number)), *(ctypes.c_long(int(a)) for a in args))
if forks and result == 0:
    os._exit(0)
print("ok" if result >= 0 else errno.errorcode[ctypes.get_errno()])
"""
# i386's getpid through `int 0x80` (mov eax, 20; int 0x80; ret), from executable memory.
I386_GETPID = r"""
import ctypes, mmap
memory = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
memory.write(bytes.fromhex("b814000000cd80c3"))
address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
print(ctypes.CFUNCTYPE(ctypes.c_int)(address)())
"""
# setns into each of pid 1's namespaces (the sandbox's own): the errno's name, or "entered".
SETNS_EACH = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
for kind in ("net", "mnt", "user", "pid"):
    fd = os.open(f"/proc/1/ns/{kind}", os.O_RDONLY)
    entered = libc.setns(fd, 0) == 0
    print(kind, "entered" if entered else errno.errorcode[ctypes.get_errno()])
"""
NORMAL_WORK = r"""
import ctypes, multiprocessing, os, subprocess, threading
results = []
threads = [threading.Thread(target=results.append, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert sorted(results) == list(range(8))
for method in ("fork", "spawn"):
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]
assert subprocess.run(["sh", "-c", "exit 7"]).returncode == 7
libc = ctypes.CDLL(None, use_errno=True)
child = os.fork()
if child == 0:  # a debugger's child: PTRACE_TRACEME stays allowed
    os._exit(0 if libc.ptrace(0, 0, None, None) == 0 else 1)
assert os.waitpid(child, 0)[1] == 0
assert libc.personality(0xFFFFFFFF) >= 0  # the query
print("all good")
"""


def number(name: str) -> int:
    return seccomp.binding().resolve_syscall(seccomp.binding().Arch.NATIVE, name)


async def probe(local: LocalRuntime, sandbox_id, name: str, *args: object) -> str:
    argv = ["python3", "-c", PROBE, str(number(name)), *(str(arg) for arg in args)]
    process = await local.exec(sandbox_id, argv)
    output = b"".join([chunk async for chunk in process.stdout()])
    await process.wait()
    return output.decode().strip()


@pytest.fixture
async def box(local: LocalRuntime, root: dict):
    """A running sandbox, on each root (the host's /usr, an image)."""
    sandbox = spec(**root)
    await started(local, sandbox)
    return sandbox


async def test_every_process_of_a_sandbox_runs_filtered(local, box):
    """Attack: any process without a filter (pid 1, the sandbox's command, a task) can
    make every call below. Stopped by: bwrap's --seccomp covers pid 1 and the command,
    and the runtime installs the filter before exec in every joined command."""
    code, out, _ = await run(local, box.sandbox_id, "grep -H ^Seccomp: /proc/[12s]*/status")
    assert code == 0
    modes = dict(line.split(":Seccomp:") for line in out.splitlines())
    assert {key: value.strip() for key, value in modes.items()} == {
        "/proc/1/status": "2",  # bwrap's init
        "/proc/2/status": "2",  # the sandbox's command
        "/proc/self/status": "2",  # this task
    }


async def test_a_task_runs_filtered(world):
    """The same through the API: a task started by the task runner runs filtered."""
    sandbox = await world.running_sandbox()
    task = await world.start_task(sandbox, ["grep", "^Seccomp:", "/proc/self/status"])
    done = await world.finished(task)
    assert done["status"] == "succeeded" and done["stdout"].split() == ["Seccomp:", "2"]


async def test_a_terminal_runs_filtered(local, box):
    """Attack: a terminal's shell makes the calls below. Stopped by: open_pty installs
    the filter like exec does."""
    session = await local.open_pty(
        box.sandbox_id, ["grep", "^Seccomp:", "/proc/self/status"], rows=24, cols=80
    )
    output = b""
    async with asyncio.timeout(10):
        while chunk := await session.read():
            output += chunk
    assert await session.wait() == 0
    await session.close()
    assert output.decode().split() == ["Seccomp:", "2"]


async def test_a_nested_user_namespace_is_refused(local, box):
    """Attack: `unshare -Ur` makes the sandbox user root of a new user namespace, with
    every capability over the namespaces it creates next (the usual first step of a
    kernel exploit). Stopped by: the filter (unshare/clone with CLONE_NEWUSER) and bwrap's
    --disable-userns."""
    code, out, err = await run(local, box.sandbox_id, "unshare -Ur id -u")
    assert code != 0 and out == "", (out, err)
    assert await probe(local, box.sandbox_id, "unshare", CLONE_NEWUSER) == "EPERM"


async def test_mounting_is_refused(local, box):
    """Attack: mount over a path (directly, or as root of a new user namespace).
    Stopped by: the filter denies mount and the new mount API."""
    script = "mount -t tmpfs none /tmp; echo $?; unshare -Urm mount -t tmpfs none /tmp; echo $?"
    _, out, _ = await run(local, box.sandbox_id, script)
    assert len(out.split()) == 2 and "0" not in out.split(), out
    assert await probe(local, box.sandbox_id, "mount", 0, 0, 0, 0, 0) == "EPERM"
    assert await probe(local, box.sandbox_id, "fsopen", 0, 0) == "EPERM"


DENIED_CALLS = [
    pytest.param("keyctl", (0, KEY_SPEC_SESSION_KEYRING, 1), "EPERM", id="keyctl"),
    pytest.param("bpf", (0, 0, 0), "EPERM", id="bpf"),
    pytest.param("perf_event_open", (0, 0, -1, -1, 0), "EPERM", id="perf_event_open"),
    pytest.param("userfaultfd", (UFFD_USER_MODE_ONLY,), "EPERM", id="userfaultfd"),
    pytest.param("io_uring_setup", (1, 0), "EPERM", id="io_uring_setup"),
    pytest.param("kexec_load", (0, 0, 0, 0), "EPERM", id="kexec_load"),
    pytest.param("init_module", (0, 0, 0), "EPERM", id="init_module"),
    pytest.param("ptrace", (PTRACE_ATTACH, 1, 0, 0), "EPERM", id="ptrace-attach-pid-1"),
    pytest.param("clone3", ("clone_args", CLONE_NEWUSER), "ENOSYS", id="clone3-newuser"),
    pytest.param("unshare", (CLONE_NEWNS,), "EPERM", id="unshare-newns"),
    pytest.param("setns", (0, 0), "EPERM", id="setns"),
    pytest.param("socket", (AF_VSOCK, SOCK_STREAM, 0), "EPERM", id="vsock-socket"),
    pytest.param("personality", (READ_IMPLIES_EXEC,), "EPERM", id="personality-rie"),
    pytest.param("open_by_handle_at", (0, 0, 0), "EPERM", id="open_by_handle_at"),
]


@pytest.mark.parametrize(("name", "args", "expected"), DENIED_CALLS)
async def test_a_denied_syscall_fails(local, box, name, args, expected):
    """Attack: the syscall (each reached a kernel bug or another sandbox's or the host's
    state before: keys, eBPF, perf, userfaultfd races, io_uring, kexec, modules, ptrace of
    bwrap's init, namespaces, vsock to the hypervisor, handle opens). Stopped by: the
    filter answers EPERM (ENOSYS for clone3, so libc falls back to clone)."""
    if name == "setns":  # joined commands may setns (nsenter needs it): ask the init tree
        sandbox = spec("sh", "-c", f"python3 -c '{PROBE}' {number('setns')} 0 0 > result")
        await local.ensure(sandbox)
        result = local.workspace(sandbox.sandbox_id) / "result"
        async with asyncio.timeout(10):
            while not result.exists() or not result.read_text():
                await asyncio.sleep(0.02)
        assert result.read_text().strip() == expected
        return
    assert await probe(local, box.sandbox_id, name, *args) == expected


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x32 and i386 are x86_64 ABIs")
async def test_other_abis_kill_the_process(local, box):
    """Attack: reach a syscall through the x32 or i386 ABI, where a filter written for
    x86_64 numbers would not match. Stopped by: the filter knows only the native ABI and
    kills a process that uses another."""
    x32_getpid = 0x40000000 | number("getpid")
    script = f"python3 -c '{PROBE}' {x32_getpid}; echo $?; python3 -c '{I386_GETPID}'; echo $?"
    _, out, _ = await run(local, box.sandbox_id, script)
    assert out.split() == [str(SIGSYS_EXIT), str(SIGSYS_EXIT)]


async def test_joined_commands_hold_no_capabilities(local, box):
    """Why joined commands may keep setns (nsenter needs it): setns needs CAP_SYS_ADMIN
    over the target, and a joined command has no capability and cannot make a user
    namespace to get one; entering the sandbox's own namespaces again is refused."""
    code, out, _ = await run(local, box.sandbox_id, "grep ^CapEff: /proc/self/status")
    assert code == 0 and out.split() == ["CapEff:", "0000000000000000"]
    process = await local.exec(box.sandbox_id, ["python3", "-c", SETNS_EACH])
    output = b"".join([chunk async for chunk in process.stdout()]).decode()
    errors = b"".join([chunk async for chunk in process.stderr()]).decode()
    assert await process.wait() == 0, errors
    # EPERM (no CAP_SYS_ADMIN over them); the user namespace: EINVAL (already in it)
    assert output.split() == ["net", "EPERM", "mnt", "EPERM", "user", "EINVAL", "pid", "EPERM"]


async def test_normal_programs_still_work(local, box):
    """The filter must not break ordinary work: shells, threads, multiprocessing (fork
    and spawn), subprocesses, ps, tracing one's own child, the personality query."""
    code, out, err = await run(local, box.sandbox_id, "echo $((6 * 7)) | cat; ps -e -o pid=")
    assert code == 0 and out.split()[0] == "42" and "1" in out.split()[1:], err
    process = await local.exec(box.sandbox_id, ["python3", "-c", NORMAL_WORK])
    output = b"".join([chunk async for chunk in process.stdout()]).decode()
    errors = b"".join([chunk async for chunk in process.stderr()]).decode()
    assert await process.wait() == 0, errors
    assert output.strip() == "all good"


async def test_info_and_the_boundary_report_the_filter(world):
    """/v1/info and the boundary summary say which filter is on, from which libseccomp,
    and how much it denies (read from the runtime's availability details)."""
    info = await world.get("/v1/info")
    reported = info["runtimeAccess"]["details"]["syscalls"]
    assert reported.startswith("seccomp filter (libseccomp ")
    assert f"{len(seccomp.filters().denied)} syscalls denied" in reported
    sandbox = await world.running_sandbox()
    summary = await world.get(f"/v1/sandboxes/{sandbox['id']}/boundary")
    assert f"syscalls: {reported}" in summary["runtime"]["isolation"]


async def test_without_the_binding_no_sandbox_starts(tmp_path, monkeypatch):
    """A runtime that cannot build the filter refuses to start sandboxes (never starts
    them unfiltered) and names the package to install."""
    monkeypatch.setattr(seccomp, "load", lambda: None)
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS)
    availability = runtime.availability()
    assert not availability.available
    assert "apt-get install python3-seccomp" in availability.message
    with pytest.raises(RuntimeFailure, match="apt-get install python3-seccomp"):
        await runtime.ensure(spec())
    await runtime.close()


async def test_a_filter_the_kernel_refuses_starts_nothing():
    """If the launcher thread cannot install its filter (here an invalid program), no
    command starts at all, rather than one without the filter."""
    launcher = seccomp.Launcher(b"\xff" * 8)  # one instruction with an unknown opcode
    with pytest.raises(RuntimeFailure, match="could not be installed"):
        await launcher.spawn("true")


def test_the_binding_loads_in_a_virtualenv():
    """The venv does not see dist-packages: Debian's extension loads by path."""
    module = seccomp.binding()
    assert module.resolve_syscall(module.Arch.NATIVE, "keyctl") > 0
