"""Attacks on the host's shared resources from inside a sandbox: disk, inodes, /tmp,
/dev/shm, CPU, processes and memory. Each must stop at the sandbox's own limit while the
server and the other sandboxes carry on (real bubblewrap, real cgroups, real loop disks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_api
from backend.engines.reconciler import Reconciler
from backend.engines.task_runner import TaskRunner
from backend.runtime import disk
from backend.runtime.base import DiskFull, Limits, RuntimeFailure
from backend.runtime.images import ImageStore
from backend.runtime.local import LocalRuntime
from backend.services import build_services
from backend.tasks.output import task_output_store
from tests.conftest import sandbox_dir
from tests.runtime.conftest import World, run, spec
from tests.support.roots import ROOTS, started

MiB = 1024**2
QUOTA = 64 * MiB
SMALL = Limits(
    memory_bytes=256 * MiB,
    processes=64,
    open_files=1024,
    file_size_bytes=1024 * MiB,
    workspace_bytes=QUOTA,
    bytes_per_inode=16 * 1024,
    cpu_millis=0,
)
ROOT = Path(__file__).resolve().parents[2]

needs_disks = pytest.mark.skipif(not disk.supported(), reason="loop mounts need root")


@pytest.fixture
async def small(tmp_path: Path):
    runtime = LocalRuntime(sandbox_dir(tmp_path), SMALL)
    yield runtime
    await runtime.close()


async def _running(runtime: LocalRuntime, **fields):
    sandbox = spec(**fields)
    assert (await runtime.ensure(sandbox)).phase == "running"
    return sandbox


def _free_bytes(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


@needs_disks
async def test_filling_the_workspace_stops_at_its_quota(small, tmp_path):
    """Attack: write until the disk is full (the data dir holds the database, artifacts and
    recordings). Stopped by: the sandbox's own ext4 disk of storageRequest bytes."""
    box = await _running(small, storage_bytes=QUOTA)
    other = await _running(small)
    free_before = _free_bytes(tmp_path)

    code, _, err = await run(small, box.sandbox_id, "dd if=/dev/zero of=big bs=1M count=1024")
    assert code != 0 and "No space left on device" in err
    written = (small.workspace(box.sandbox_id) / "big").stat().st_size
    assert QUOTA - 12 * MiB < written <= QUOTA  # ~the quota (ext4 keeps ~8 MiB of 64)
    assert free_before - _free_bytes(tmp_path) < QUOTA + 8 * MiB

    code, out, _ = await run(small, other.sandbox_id, "echo fine > ok && cat ok")
    assert (code, out) == (0, "fine\n")  # the other sandbox still writes


@needs_disks
async def test_filling_an_image_roots_own_layer_stops_at_the_same_quota(tmp_path, shared_images):
    """Attack: on an image root, write outside the workspace (the home directory, in the
    root filesystem's writable layer) until the disk is full. Stopped by: that layer lives
    on the sandbox's own disk, so it shares the workspace's quota."""
    runtime = LocalRuntime(sandbox_dir(tmp_path), SMALL, image_store=ImageStore(shared_images))
    try:
        box = spec(storage_bytes=QUOTA, **ROOTS["image"])
        await started(runtime, box)
        free_before = _free_bytes(tmp_path)
        code, _, err = await run(
            runtime, box.sandbox_id, "dd if=/dev/zero of=$HOME/big bs=1M count=1024"
        )
        assert code != 0 and "No space left on device" in err
        assert free_before - _free_bytes(tmp_path) < QUOTA + 8 * MiB
    finally:
        await runtime.close()


@needs_disks
async def test_a_disk_larger_than_a_file_can_be_is_refused_in_words(small):
    """Attack: a template asks for storageRequest 4Ei, beyond the largest file the data
    disk holds. Stopped by: the runtime refuses that sandbox with a RuntimeFailure naming
    its disk (not a raw OSError), and leaves no half-made image behind."""
    box = spec(storage_bytes=4 * 1024**6)
    with pytest.raises(RuntimeFailure, match=r"sandbox disk: .*File too large"):
        await small.ensure(box)
    assert not [p.name for p in (small.root / disk.BLANKS).glob("*.new")]
    await _running(small)  # the runtime serves on


@needs_disks
async def test_tmp_and_dev_shm_are_capped(small):
    """Attack: fill /tmp (a tmpfs of half the RAM before) and /dev/shm. Stopped by: /tmp
    on the sandbox's disk (same quota), /dev/shm a tmpfs of min(memory limit, 64 MiB)."""
    box = await _running(small, storage_bytes=QUOTA)
    for target in ("/tmp/fill", "/dev/shm/fill"):
        code, _, err = await run(small, box.sandbox_id, f"dd if=/dev/zero of={target} bs=1M")
        assert code != 0 and "No space left on device" in err, target
        _, size, _ = await run(small, box.sandbox_id, f"stat -c %s {target}")
        assert int(size) <= 64 * MiB, target


@needs_disks
async def test_tmp_is_emptied_at_each_start(small):
    """/tmp lives on the sandbox's disk but starts empty, as a tmpfs would."""
    box = await _running(small)
    await run(small, box.sandbox_id, "echo old > /tmp/left && echo kept > stays")
    await small.stop(box.sandbox_id)
    await small.ensure(box)
    _, out, _ = await run(small, box.sandbox_id, "ls -A /tmp; cat stays")
    assert out == "kept\n"


@needs_disks
async def test_creating_files_stops_at_the_inode_limit(small):
    """Attack: exhaust inodes with empty files (no bytes, so a byte quota alone would not
    stop it). Stopped by: the disk's inode count (one per 16 KiB: 4096 for 64 MiB)."""
    box = await _running(small, storage_bytes=QUOTA)
    script = (
        "import os\nn = 0\ntry:\n    while True:\n        open(f'f{n}', 'w').close(); n += 1\n"
        "except OSError as e:\n    print(n, e.errno)\n"
    )
    _, out, err = await run(small, box.sandbox_id, f'python3 -c "{script}"')
    created, error = map(int, out.split())
    assert error == 28  # ENOSPC
    assert 3000 < created <= QUOTA // SMALL.bytes_per_inode, (out, err)


@needs_disks
async def test_writing_into_a_full_sandbox_disk_answers_507(world):
    """Attack: fill the sandbox's disk from inside, then write through the files API.
    Stopped by: the quota; the API answers 507 in words, keeps what is stored and serves on."""
    sandbox = await world.running_sandbox(storageRequest="64Mi")
    files = f"/v1/sandboxes/{sandbox['id']}/files"
    put = await world.client.put(f"{files}/content", params={"path": "kept.txt"}, content=b"kept")
    assert put.status_code in (200, 201, 204), put.text
    task = await world.start_task(sandbox, ["sh", "-c", "dd if=/dev/zero of=big bs=1M; true"])
    await world.finished(task, timeout=30)

    full = await world.client.put(
        f"{files}/content", params={"path": "more.bin"}, content=b"x" * MiB
    )
    assert full.status_code == 507, full.text
    assert "disk quota is full" in full.json()["error"]
    kept = await world.client.get(f"{files}/content", params={"path": "kept.txt"})
    assert kept.status_code == 200 and kept.content == b"kept"

    assert (await world.client.delete(f"{files}", params={"path": "big"})).status_code < 300
    again = await world.client.put(
        f"{files}/content", params={"path": "more.bin"}, content=b"x" * MiB
    )
    assert again.status_code in (200, 201, 204), again.text


async def test_cpu_is_capped_at_the_templates_cpu(small):
    """Attack: spin on every CPU (the server shares them). Stopped by: the cgroup's CFS
    quota, here 250 millicpus: one second of spinning gets about a quarter second."""
    if not (small._cgroups and small._cgroups.cpu_parent):
        pytest.skip("no cgroup cpu controller")
    box = await _running(small, cpu_millis=250)
    script = (
        "import time\nend = time.monotonic() + 1\nwhile time.monotonic() < end: pass\n"
        "print(time.process_time())"
    )
    code, out, _ = await run(small, box.sandbox_id, f"python3 -c '{script}'")
    assert code == 0
    assert 0.1 < float(out) < 0.45, out


async def test_a_fork_bomb_is_bounded(small):
    """Attack: a fork bomb. Stopped by: pids.max (cgroups) or RLIMIT_NPROC; the server
    still serves and another sandbox still runs commands meanwhile."""
    bomb = await _running(small)
    other = await _running(small)
    process = await small.exec(bomb.sandbox_id, ["sh", "-c", "f() { f | f & }; f; sleep 5"])
    await asyncio.sleep(1.0)
    if small._cgroups:
        pids = small._cgroups.pids_parent / str(bomb.sandbox_id) / "pids.current"
        assert int(pids.read_text()) <= SMALL.processes
    code, out, _ = await run(small, other.sandbox_id, "echo alive")
    assert (code, out) == (0, "alive\n")
    await small.stop(bomb.sandbox_id)  # ends every process of the bomb
    await process.wait()
    code, out, _ = await run(small, other.sandbox_id, "echo still")
    assert (code, out) == (0, "still\n")


async def test_memory_exhaustion_kills_only_the_sandboxs_process(small):
    """Attack: allocate past the memory limit. Stopped by: memory cgroup (OOM kill inside
    the sandbox) or RLIMIT_AS; the server and the sandbox itself live on."""
    box = await _running(small)
    code, _, _ = await run(small, box.sandbox_id, "python3 -c 'x = b\"x\" * (512 << 20)'")
    assert code != 0
    code, out, _ = await run(small, box.sandbox_id, "echo survived")
    assert (code, out) == (0, "survived\n")


# Start sleeping children until fork fails (or 100); print how many started.
FILL = """python3 -c '
import os, time
n = 0
try:
    while n < 100:
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError:
    pass
print(n)
'"""

DRIVER = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[2])
from backend.runtime.base import Limits
from backend.runtime.local import LocalRuntime
from tests.runtime.conftest import spec
from tests.security.test_resource_limits import FILL

async def filled(runtime, box):
    # The fill runs as the sandbox's own command (the sandbox keeps its sleepers).
    await runtime.ensure(box)
    count = runtime.workspace(box.sandbox_id) / "count"
    for _ in range(500):
        if count.exists() and count.read_text().strip():
            return int(count.read_text())
        await asyncio.sleep(0.02)
    return (await runtime.logs(box.sandbox_id, 5)).strip()

async def main():
    limits = Limits(memory_bytes=1 << 30, processes=40, open_files=256,
                    file_size_bytes=1 << 20, cpu_millis=0)
    runtime = LocalRuntime(__import__("pathlib").Path(sys.argv[1]), limits)
    command = ("sh", "-c", FILL + " > count; sleep 60")
    try:
        first = await filled(runtime, spec(*command))
        second = await filled(runtime, spec(*command))
        print(json.dumps({"a": first, "b": second}))
    finally:
        await runtime.close()

asyncio.run(main())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")
def test_each_sandbox_has_its_own_process_budget_without_root(tmp_path):
    """Attack (server without root, so no cgroups and one uid for every sandbox): exhaust
    the processes in one sandbox so that another can start none. Stopped by: RLIMIT_NPROC
    set inside each sandbox's user namespace (counted per namespace since Linux 5.14)."""
    nobody = pwd.getpwnam("nobody")
    if not os.access(sys.executable, os.X_OK) or shutil.which("setpriv") is None:
        pytest.skip("no setpriv")
    work = tmp_path / "nonroot"
    work.mkdir()
    root = sandbox_dir(tmp_path) / "nobody"
    root.mkdir()
    for path in (work, root):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (work / "driver.py").write_text(DRIVER)
    result = subprocess.run(
        [
            "setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            "--clear-groups", "--", sys.executable, str(work / "driver.py"), str(root), str(ROOT),
        ],
        capture_output=True, text=True, timeout=60, cwd=work,
        env={"PATH": os.environ["PATH"], "HOME": str(work)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert 20 < counts["a"] < 40, counts  # a budget of 40, shell and runtime steps included
    assert 20 < counts["b"] < 40, counts  # the same again: not what the first one left


def _loop_backing_files() -> list[str]:
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        found.append(backing.read_text().strip())
    return found


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mounts:
        return [line.split()[4] for line in mounts if line.split()[4].startswith(str(path))]


def _volumes_under(path: Path) -> list[str]:
    """Sandbox volumes only (not the spare kept mounted under `.disks/`)."""
    return [mount for mount in _mounts_under(path) if mount.endswith(f"/{disk.VOLUME}")]


@needs_disks
async def test_disks_are_mounted_only_while_used_and_never_outlive_the_runtime(tmp_path):
    """Attack: run the host out of loop devices (one per sandbox ever started). Stopped by:
    a disk is mounted only while its sandbox runs or a file operation needs it, and
    `close` unmounts every disk (each loop device detaches itself)."""
    runtime = LocalRuntime(sandbox_dir(tmp_path), SMALL)
    try:
        box = await _running(runtime)
        await run(runtime, box.sandbox_id, "echo kept > file")
        await runtime.stop(box.sandbox_id)
        assert _volumes_under(tmp_path) == []  # stopped: unmounted
        assert await runtime.read_file(box.sandbox_id, "file", 100) == b"kept\n"
        async with await runtime.open_read(box.sandbox_id, "file") as stream:
            assert _volumes_under(tmp_path)  # held while the stream is open
            assert b"".join([chunk async for chunk in stream.chunks]) == b"kept\n"
        assert _volumes_under(tmp_path) == []
        await _running(runtime)
        assert len(_volumes_under(tmp_path)) == 1
    finally:
        await runtime.close()
    assert _mounts_under(tmp_path) == []  # spares and `.disks` too
    for _ in range(100):  # a stopped sandbox's namespace lets go of its disk just after
        if not [f for f in _loop_backing_files() if f.startswith(str(tmp_path))]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"loop devices left: {_loop_backing_files()}")


# Mounts one sandbox volume, says so, then waits to be killed.
MOUNT_AND_WAIT = """
import asyncio, sys
from pathlib import Path
from backend.runtime import disk

async def main():
    home = Path(sys.argv[1])
    volumes = disk.Volumes(home.parent, 16 * 1024)
    await volumes.create(home, 16 * 1024**2)
    await volumes.start(home, 65534)
    print("mounted", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@needs_disks
async def test_a_server_that_dies_leaves_no_disk_mounted(tmp_path):
    """Attack: get the server SIGKILLed (the OOM killer, say) while sandboxes run, so
    their disks stay mounted and their loop devices held for good. Stopped by: the
    janitor the server started in its own session unmounts every volume it was told
    about once the server's end of its pipe closes."""
    home = tmp_path / "box"
    home.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-c", MOUNT_AND_WAIT, str(home)],
        stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert await asyncio.to_thread(server.stdout.readline) == b"mounted\n"
        assert _mounts_under(tmp_path) == [str(home / disk.VOLUME)]
    finally:
        server.kill()
        server.wait()
    for _ in range(100):
        if not _mounts_under(tmp_path):
            break
        await asyncio.sleep(0.05)
    left = _mounts_under(tmp_path)
    for mount in left:  # not on this machine's next test run
        subprocess.run(["umount", "--lazy", mount], check=False)
    assert left == []


# On a host whose / is a shared mount (systemd's), takes a ready spare: its mount must
# move into the sandbox's directory (a mount cannot move out of a shared parent).
TAKE_SPARE_ON_SHARED_ROOT = """
import asyncio, os, sys
from pathlib import Path
from backend.runtime import disk

async def main():
    root = Path(sys.argv[1])
    volumes = disk.Volumes(root, 16 * 1024, 16 * 1024**2)
    first, second = root / "first", root / "second"
    for home in (first, second):
        home.mkdir()
    await volumes.create(first, 16 * 1024**2)  # no spare yet: copied; a spare is made
    while not volumes._spares:
        await asyncio.sleep(0.01)
    await volumes.create(second, 16 * 1024**2)
    moved = os.path.ismount(second / disk.VOLUME)  # mounted before start: the spare's
    await volumes.start(second, 65534)
    print("moved" if moved else "mounted again", flush=True)
    await volumes.close()

asyncio.run(main())
"""


@needs_disks
async def test_a_spare_disk_moves_into_place_on_a_host_whose_root_is_shared(tmp_path):
    """Launching takes a disk made and mounted ahead of time and moves its mount into the
    sandbox's directory. On a shared / (systemd) that move is refused unless the spares
    sit under a private mount: run in a mount namespace of the test's own whose / is
    shared, the spare still moves, and nothing stays mounted."""
    done = await asyncio.to_thread(
        subprocess.run,
        ["unshare", "--mount", "--propagation", "shared", "--",
         sys.executable, "-c", TAKE_SPARE_ON_SHARED_ROOT, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "moved\n"


@needs_disks
async def test_a_workspace_from_before_disk_quotas_keeps_working(small):
    """A plain workspace directory (made before disks) is kept as it is, with no quota,
    and the sandbox's events say so."""
    box = spec()
    legacy = small.root / str(box.sandbox_id) / "workspace"
    legacy.mkdir(parents=True)
    (legacy / "old.txt").write_text("from before")
    os.chown(legacy, *(2 * [small._uid(legacy.parent)]))
    await small.ensure(box)
    _, out, _ = await run(small, box.sandbox_id, "cat old.txt")
    assert out == "from before"
    assert small.workspace(box.sandbox_id) == legacy
    assert any(e.reason == "NoDiskQuota" for e in await small.events(box.sandbox_id))


@needs_disks
async def test_the_boundary_names_the_disk_and_cpu_limits(world):
    """What is enforced is reported: the sandbox's disk size and the CPU quota."""
    sandbox = await world.running_sandbox(storageRequest="64Mi", cpuRequest="500m")
    summary = await world.get(f"/v1/sandboxes/{sandbox['id']}/boundary")
    facts = summary["runtime"]["isolation"]
    assert any(f.startswith("disk: 64Mi (storageRequest); own ext4 disk") for f in facts), facts
    assert any(f.startswith("cpu: ") for f in facts), facts


@needs_disks
async def test_a_disk_reopened_right_after_stop_keeps_its_data_intact(small):
    """Attack: stop a sandbox and at once write through the files API, or start it again,
    while its dying namespace still holds its filesystem (a second ext4 on the same image
    would corrupt it). Stopped by: reusing the loop device that still holds the image."""
    box = await _running(small, storage_bytes=QUOTA)
    for round in range(8):
        await run(small, box.sandbox_id, f"echo {round} > inside-{round}")
        await small.stop(box.sandbox_id)
        await small.write_file(box.sandbox_id, f"outside-{round}", b"%d\n" % round)
        await small.ensure(box)
    _, out, _ = await run(small, box.sandbox_id, "cat inside-* outside-*")
    assert out.split() == [*map(str, range(8)), *map(str, range(8))]
    await small.stop(box.sandbox_id)
    image = small.root / str(box.sandbox_id) / disk.IMAGE
    for _ in range(100):  # until the last namespace let go of it
        if not disk._attached(image):
            break
        await asyncio.sleep(0.05)
    check = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture
async def full_store_world(settings, database, runtime, tmp_path):
    """The API with its artifacts on a small filesystem of their own (16 MiB), nearly full."""
    volumes = disk.Volumes(tmp_path / "store-disks", SMALL.bytes_per_inode)
    home = tmp_path / "store"
    home.mkdir()
    await volumes.create(home, 16 * MiB)
    await volumes.start(home, os.getuid())
    store = home / disk.VOLUME / disk.WORKSPACE
    settings = settings.model_copy(
        update={"artifact_content_backend": "filesystem", "artifact_content_dir": store}
    )
    app = create_api(services=build_services(settings, database, runtime))
    runner = TaskRunner(database, runtime, task_output_store(settings), grace=0.5)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield World(app, client, Reconciler(database, runtime, settings), runner), store
    finally:
        await runtime.close()
        await volumes.close()


@needs_disks
async def test_capturing_into_a_full_artifact_store_answers_507(full_store_world):
    """Attack: capture artifacts until the data disk is full. Stopped by: the store's
    ENOSPC becomes 507 in words; retained content stays readable, nothing half-made stays."""
    world, store = full_store_world
    sandbox = await world.running_sandbox()
    sandbox_id = uuid.UUID(sandbox["id"])
    await run(world.runtime, sandbox_id, "echo small > small.txt; head -c 8M /dev/urandom > big")

    async def capture(name: str):
        artifact = await world.post(
            f"/v1/sandboxes/{sandbox['id']}/artifacts",
            {"kind": "file", "name": name, "uri": f"workspace:///workspace/{name}"},
        )
        return artifact, await world.client.post(f"/v1/artifacts/{artifact['id']}/capture")

    kept, response = await capture("small.txt")
    assert response.status_code == 200, response.text
    (store / "filler").write_bytes(b"\0" * (8 * MiB))  # the rest of the disk is taken
    _, response = await capture("big")
    assert response.status_code == 507, response.text
    assert "no space left" in response.json()["error"]
    download = await world.client.get(f"/v1/artifacts/{kept['id']}/content")
    assert download.status_code == 200 and download.content == b"small\n"
    assert not [p for p in store.rglob("*.tmp")]  # the failed blob left nothing behind


@needs_disks
async def test_a_full_data_disk_refuses_a_new_sandbox_in_words_and_serves_on(tmp_path):
    """Attack: the data disk fills up (whoever filled it). Stopped by: a sandbox that
    cannot get its disk fails in words (DiskFull, not an OSError from deep inside), its
    events are dropped rather than failing the runtime, and running sandboxes serve on."""
    data_disks = disk.Volumes(tmp_path / "data-disks", SMALL.bytes_per_inode)
    data = sandbox_dir(tmp_path).parent / "data"
    data.mkdir()
    await data_disks.create(data, 40 * MiB)
    await data_disks.start(data, 0)
    root = data / disk.VOLUME / disk.WORKSPACE
    root.chmod(0o711)
    runtime = LocalRuntime(root / "sandboxes", SMALL)
    try:
        box = await _running(runtime, storage_bytes=24 * MiB)
        await runtime.delete((await _running(runtime, storage_bytes=24 * MiB)).sandbox_id)
        for size in (MiB, 4096):  # to the last block
            with (root / f"filler-{size}").open("wb") as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"\1" * size)
                    filler.flush()
        with pytest.raises(DiskFull, match="no space left on the server's data disk"):
            await runtime.ensure(spec(storage_bytes=24 * MiB))
        assert await run(runtime, box.sandbox_id, "cat /proc/self/comm") == (0, "cat\n", "")
    finally:
        await runtime.close()
        await data_disks.close()
