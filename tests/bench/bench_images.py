"""Benchmark template images on the local runtime, against baselines in the same run.

    .venv/bin/python tests/bench/bench_images.py [--launches 20] [--layer-mib 32]
    .venv/bin/python tests/bench/bench_images.py --smoke   # tiny: the test suite's run

Prints: launch to running through the API (POST /v1/sandboxes until GET says running) of
a template whose image is cached vs one on the host's /usr (image `host`, the launch of
before images), alternating; and a first pull's throughput (the image store: resolve,
copy, unpack) vs `skopeo copy` of the same image to an OCI layout. The image is built
here (busybox plus three layers of random bytes) and served by a registry on loopback.
Targets: cached-image launch p50 <= 1.5x the host-root launch p50; a first pull at least
half of skopeo's own throughput (unpacking is the difference).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from backend.runtime.images import ImageStore  # noqa: E402
from backend.services import build_services  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from tests.bench.harness import check, parse_args  # noqa: E402
from tests.conftest import sandbox_dir  # noqa: E402
from tests.support.in_process import served_in_process  # noqa: E402
from tests.support.registry import ImageSpec, build_image, push, running_registry  # noqa: E402

WAIT_TIMEOUT = 120.0
LAYERS = 3
LOOPBACK = "127.0.0.1"  # where the bench's registry listens


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def line(name: str, samples: list[float]) -> str:
    return (
        f"{name:<40} p50 {p50(samples):7.1f} ms   max {max(samples):7.1f} ms   (n={len(samples)})"
    )


async def until_running(client: httpx.AsyncClient, sandbox_id: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        sandbox = (await client.get(f"/v1/sandboxes/{sandbox_id}")).json()
        if sandbox["status"] == "running":
            return
        check(sandbox["status"] == "pending", f"sandbox {sandbox['status']}: {sandbox}")
        check(time.monotonic() < deadline, f"not running after {WAIT_TIMEOUT} s: {sandbox}")
        await asyncio.sleep(0.002)


def the_image(work: Path, layer_mib: int) -> ImageSpec:
    files = {f"/data/layer-{n}.bin": os.urandom(layer_mib * 1024**2) for n in range(LAYERS)}
    return ImageSpec(files=files, layers=LAYERS + 1, env={"BENCH": "1"})


def skopeo_copy_seconds(reference: str, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-no-creds",
         f"docker://{reference}", f"oci:{target}:bench"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


async def store_pull_seconds(reference: str, root: Path) -> float:
    started = time.perf_counter()
    await ImageStore(root, insecure_registries=(LOOPBACK,)).pull(reference)
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-images-"))
    try:
        with running_registry(work / "registry") as registry:
            layout = build_image(work / "build", the_image(work, args.layer_mib))
            reference = registry.ref("bench", "1")
            push(layout, registry, "bench", "1")
            megabytes = LAYERS * args.layer_mib * 1.048576
            skopeo = [skopeo_copy_seconds(reference, work / f"copy-{n}") for n in range(args.pulls)]
            store = [
                await store_pull_seconds(reference, work / f"store-{n}") for n in range(args.pulls)
            ]
            print(f"baseline  skopeo copy to an OCI layout    {megabytes / p50(skopeo):7.1f} MB/s")
            print(
                f"mbox      first pull (resolve, copy, unpack) {megabytes / p50(store):7.1f} MB/s"
            )
            ratio = p50(store) / p50(skopeo)
            print(f"  a first pull takes {ratio:.2f}x skopeo's copy (target <= 2x)")
            await launches(args, work, reference)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def launches(args: argparse.Namespace, work: Path, reference: str) -> None:
    settings = load_settings(
        data_dir=work / "data",
        local_sandbox_dir=sandbox_dir(work),
        reconcile_interval=1.0,
        insecure_registries=LOOPBACK,  # the bench's registry: refused unless listed
    )
    async with served_in_process(settings, build_services(settings)) as client:
        project = (
            await client.post("/v1/projects", json={"name": "bench", "defaultNamespace": "b"})
        ).json()
        templates = {}
        for name, image in (("host", "host"), ("image", reference)):
            body = {"name": name, "image": image}
            templates[name] = (await client.post("/v1/templates", json=body)).json()

        async def launch(kind: str) -> float:
            started = time.perf_counter()
            body = {
                "projectId": project["id"],
                "templateId": templates[kind]["id"],
                "name": f"{kind}-{time.time_ns()}",
            }
            sandbox = (await client.post("/v1/sandboxes", json=body)).json()
            await until_running(client, sandbox["id"])
            return (time.perf_counter() - started) * 1000

        first = await launch("image")  # pulls: not a cached launch
        print(line("first launch of the image (pulls)", [first]))
        samples: dict[str, list[float]] = {"host": [], "image": []}
        for turn in range(2 * args.launches):
            kind = "host" if turn % 2 == 0 else "image"
            samples[kind].append(await launch(kind))
        print(line("baseline  launch -> running (image host)", samples["host"]))
        print(line("mbox      launch -> running (cached image)", samples["image"]))
        ratio = p50(samples["image"]) / p50(samples["host"])
        print(f"  a cached image's launch takes {ratio:.2f}x the host-root launch (target <= 1.5x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--layer-mib", type=int, default=32)
    parser.add_argument("--pulls", type=int, default=3)
    asyncio.run(main(parse_args(parser, {"launches": 2, "layer_mib": 1, "pulls": 1})))
