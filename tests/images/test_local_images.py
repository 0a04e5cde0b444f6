"""Sandboxes on the local runtime run their template's image: pulled from a registry the
tests start, unpacked, cached, and run as the image says (env, user, entrypoint)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import disk, images
from backend.runtime.base import RuntimeStatus
from backend.runtime.images import ImageFailure, ImageStore, Progress
from backend.runtime.local import LocalRuntime
from tests.conftest import TEST_REGISTRY_HOST, sandbox_dir
from tests.runtime.conftest import LIMITS, run, spec
from tests.support.registry import ImageSpec, Registry, build_image, push

PYTHON_VERSION = "#!/bin/sh\necho 'Python 3.99.{minor}'\n"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    store = ImageStore(tmp_path / "images", insecure_registries=(TEST_REGISTRY_HOST,))
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS, image_store=store)
    yield runtime
    await runtime.close()


def image(tmp_path: Path, registry: Registry, name: str, **fields: object) -> tuple[str, str]:
    """Build and push `name`; its reference and digest."""
    layout = build_image(tmp_path / name, ImageSpec(**fields))
    return registry.ref(name, "1"), push(layout, registry, name, "1")


async def until_settled(runtime: LocalRuntime, sandbox_id: uuid.UUID) -> RuntimeStatus:
    """The status once it is no longer starting (pulling)."""
    for _ in range(600):
        status = await runtime.status(sandbox_id)
        if status.phase != "starting":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"still starting: {status}")


async def started(runtime: LocalRuntime, reference: str, *command: str, **fields: object):
    box = spec(*command, image=reference, **fields)
    first = await runtime.ensure(box)
    status = first if first.phase != "starting" else await until_settled(runtime, box.sandbox_id)
    assert status.phase == "running", status
    return box, first


async def test_two_images_each_see_their_own_usr(
    runtime: LocalRuntime, registry: Registry, tmp_path: Path
) -> None:
    one, _ = image(
        tmp_path, registry, "py-one", files={"/usr/bin/python3": PYTHON_VERSION.format(minor=1)}
    )
    two, _ = image(
        tmp_path, registry, "py-two", files={"/usr/bin/python3": PYTHON_VERSION.format(minor=2)}
    )
    host = subprocess.run(["python3", "--version"], capture_output=True, text=True).stdout
    first, status = await started(runtime, one)
    assert status.phase == "starting" and status.reason == "pulling", status
    second, _ = await started(runtime, two)
    _, out_one, _ = await run(runtime, first.sandbox_id, "python3 --version")
    _, out_two, _ = await run(runtime, second.sandbox_id, "python3 --version")
    assert (out_one.strip(), out_two.strip()) == ("Python 3.99.1", "Python 3.99.2")
    assert host.strip() not in (out_one.strip(), out_two.strip())
    code, _, _ = await run(runtime, first.sandbox_id, "ls /usr/lib/python3* /etc/debian_version")
    assert code != 0, "the host's /usr must not be visible"


async def test_image_env_user_and_entrypoint_apply(
    runtime: LocalRuntime, registry: Registry, tmp_path: Path
) -> None:
    reference, digest = image(
        tmp_path,
        registry,
        "configured",
        env={"FROM_IMAGE": "yes", "OVERRIDDEN": "image"},
        user="1234:1234",
        entrypoint=("/bin/sh", "-c"),
        cmd=("echo started > /tmp/marker; exec sleep 1000",),
    )
    box, _ = await started(runtime, reference, env={"OVERRIDDEN": "template"})
    code, out, err = await run(runtime, box.sandbox_id, 'id -u; echo "$FROM_IMAGE $OVERRIDDEN"; ps')
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "1234"
    assert lines[1] == "yes template"
    assert "sleep 1000" in out  # the image's entrypoint + cmd is the main process
    target = await runtime.target(box.sandbox_id)
    assert target.details["imageDigest"] == digest


async def test_writable_layer_survives_a_restart_and_the_cache_answers(
    runtime: LocalRuntime, registry: Registry, tmp_path: Path
) -> None:
    reference, _ = image(tmp_path, registry, "writable")
    box, first = await started(runtime, reference)
    assert first.phase == "starting"
    code, _, err = await run(
        runtime, box.sandbox_id, "echo kept > $HOME/note && echo w > /workspace/w"
    )
    assert code == 0, err
    code, _, _ = await run(runtime, box.sandbox_id, "echo no > /bin/planted")
    assert code != 0, "the image's own files are not the sandbox user's to change"
    await runtime.stop(box.sandbox_id)
    again = await runtime.ensure(box)
    assert again.phase == "running", "a cached image starts at once, with no pull"
    _, out, _ = await run(runtime, box.sandbox_id, "cat $HOME/note /workspace/w")
    assert out.split() == ["kept", "w"]


async def test_the_least_recently_used_image_not_in_use_is_evicted(
    registry: Registry, tmp_path: Path
) -> None:
    payload = {"/data/blob": os.urandom(512 * 1024)}
    one, _ = image(tmp_path, registry, "evict-one", files=payload)
    two, _ = image(tmp_path, registry, "evict-two", files=payload)
    store = ImageStore(
        tmp_path / "cache", max_bytes=1, insecure_registries=(TEST_REGISTRY_HOST,)
    )  # every second image is too many
    first = await store.pull(one)
    second = await store.pull(two)  # nothing in use: the older one goes
    assert [cached.digest for cached in store.images()] == [second.digest]
    assert not first.bundle.exists() and store.cached(one) is None
    blobs = tmp_path / "cache" / "oci" / "blobs" / "sha256"
    assert first.digest.split(":")[1] not in os.listdir(blobs), "its blobs were collected"
    again = await store.pull(one, in_use=lambda: {second.digest})  # in use: both stay
    assert {cached.digest for cached in store.images()} == {again.digest, second.digest}
    assert again.digest == first.digest and (again.rootfs / "data" / "blob").exists()


async def test_pull_policies_and_progress(registry: Registry, tmp_path: Path) -> None:
    """Never: the cache only; IfNotPresent: the cached digest even after the tag moved;
    Always: what the tag names now. A pull reports every byte it copied."""
    store = ImageStore(tmp_path / "cache", insecure_registries=(TEST_REGISTRY_HOST,))
    reference, first_digest = image(tmp_path, registry, "moving", files={"/v": "1"})
    with pytest.raises(ImageFailure, match="not cached") as refused:
        await store.pull(reference, policy="Never")
    assert refused.value.reason == "not-found"
    progress = Progress()
    first = await store.pull(reference, progress=progress)
    assert first.digest == first_digest and progress.step == "ready"
    assert progress.total > 0 and progress.done == progress.total
    layout = build_image(tmp_path / "moved", ImageSpec(files={"/v": "2"}))
    moved_digest = push(layout, registry, "moving", "1")
    assert (await store.pull(reference, policy="IfNotPresent")).digest == first_digest
    assert (await store.pull(reference, policy="Never")).digest == first_digest
    assert (await store.pull(reference, policy="Always")).digest == moved_digest


async def test_stopping_one_image_sandbox_lets_go_of_its_disk_while_others_run(
    runtime: LocalRuntime, registry: Registry, tmp_path: Path
) -> None:
    """Each image sandbox's mount namespace starts as a copy of the host's mounts: unless
    the other sandboxes' disks are detached from it, a sandbox started later holds an
    earlier one's disk, whose stop then waits for it (and the disk stays attached)."""
    reference, _ = image(tmp_path, registry, "disks")
    first, _ = await started(runtime, reference)
    second, _ = await started(runtime, reference)
    disk_image = runtime._home(first.sandbox_id) / disk.IMAGE
    assert disk._attached(disk_image), "the first sandbox runs on its own disk"
    began = asyncio.get_running_loop().time()
    await runtime.stop(first.sandbox_id)
    assert disk._attached(disk_image) is None, "its disk is let go at once"
    assert asyncio.get_running_loop().time() - began < disk.DETACH_SECONDS
    code, out, _ = await run(runtime, second.sandbox_id, "echo still here")
    assert (code, out.strip()) == (0, "still here")


async def test_a_registry_on_this_machine_is_refused_unless_listed(tmp_path: Path) -> None:
    """Attack (SSRF): a template author names the server's own loopback port as the
    registry, to make the server request it (and read the answer in the error). Stopped
    by: loopback, link-local and unspecified registries are refused before any request
    unless MBOX_INSECURE_REGISTRIES lists them."""
    with socket.create_server(("127.0.0.1", 0)) as service:
        service.settimeout(0.2)
        port = service.getsockname()[1]
        store = ImageStore(tmp_path / "cache")
        for reference in (f"127.0.0.1:{port}/x:1", f"localhost:{port}/x:1", f"[::1]:{port}/x:1"):
            with pytest.raises(ImageFailure) as refused:
                await store.pull(reference)
            assert refused.value.reason == "registry-not-allowed", reference
            assert "MBOX_INSECURE_REGISTRIES" in str(refused.value)
        with pytest.raises(TimeoutError):
            service.accept()
    assert images._on_this_host("169.254.169.254"), "the cloud metadata address (no traffic)"
    assert images._on_this_host("0.0.0.0") and not images._on_this_host("10.1.2.3")
    listed = ImageStore(tmp_path / "listed", insecure_registries=("127.0.0.1",))
    with pytest.raises(ImageFailure) as unreachable:
        await listed.pull(f"127.0.0.1:{port}/x:1")  # listed: asked, and nobody answers now
    assert unreachable.value.reason == "unreachable"
