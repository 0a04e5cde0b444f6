"""Benchmark 100 MB artifact upload and download per content backend, against a plain
file copy on the same disk in the same run.

    .venv/bin/python tests/bench/bench_artifacts.py [--megabytes 100]
    .venv/bin/python tests/bench/bench_artifacts.py --smoke   # 1 MiB: the test suite's run

Each backend gets a real API server process (tests/support/api_server.py) with its own
data dir: database on SQLite, database on Postgres (a throwaway cluster, skipped with a
note when the server binaries are missing), filesystem, and S3 against moto. After a
small warm-up upload the server's peak RSS is reset, then one upload
(PUT /v1/artifacts/{id}/content, a generator body) and one streamed download are timed
and sha256-checked. Peak RSS growth is the server's VmHWM over its RSS before the
transfers. The baseline is shutil.copyfile of a file of the same size in the data dir
(written first, median of 3 copies). MB/s is 1e6 bytes per second; the payload is
`--megabytes` MiB.

Targets: peak RSS growth < 48 MB (80 MB for s3: 8 MiB multipart parts in flight);
download >= 50 MB/s for filesystem and database-sqlite. A miss prints MISS (in a smoke
run the targets are not judged); the exit code is 0 either way. A backend that fails
(an HTTP error, a sha256 mismatch) is reported and the exit code is 1.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.harness import check, parse_args
from tests.support.api_server import api_server
from tests.support.artifacts import DEFAULT_FLAT_MB, FLAT_MB, MiB, body, round_trip

MIN_DOWNLOAD_MBPS = {"filesystem": 50.0, "database-sqlite": 50.0}


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def file_copy_mbps(data_dir: Path, size: int) -> float:
    """Write a file of `size` bytes, then time shutil.copyfile of it (median of 3)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    source, target = data_dir / "copy-source.bin", data_dir / "copy-target.bin"
    with source.open("wb") as out:
        for chunk in body(size):
            out.write(chunk)
    rates = []
    for _ in range(3):
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        shutil.copyfile(source, target)
        rates.append(mbps(size, time.perf_counter() - started))
    source.unlink()
    target.unlink()
    return statistics.median(rates)


@contextmanager
def s3_env() -> Iterator[dict[str, str]]:
    from tests.support.s3 import start_s3_server  # moto is imported only when used

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines
    s3 = start_s3_server()
    try:
        overrides = {f"MBOX_{name.upper()}": str(value) for name, value in s3.overrides.items()}
        yield {"MBOX_ARTIFACT_CONTENT_BACKEND": "s3", **overrides}
    finally:
        s3.stop()


@contextmanager
def postgres_env() -> Iterator[dict[str, str]]:
    import sqlalchemy as sa

    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        engine = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE mbox_bench"))
        engine.dispose()
        yield {
            "MBOX_ARTIFACT_CONTENT_BACKEND": "postgres",
            "DATABASE_URL": cluster.url("mbox_bench"),
        }
    finally:
        cluster.stop()


BACKENDS: dict[str, Callable[[], AbstractContextManager[dict[str, str]]]] = {
    "database-sqlite": lambda: nullcontext({"MBOX_ARTIFACT_CONTENT_BACKEND": "postgres"}),
    "database-postgres": postgres_env,
    "filesystem": lambda: nullcontext({"MBOX_ARTIFACT_CONTENT_BACKEND": "filesystem"}),
    "s3": s3_env,
}


@dataclass
class Result:
    backend: str
    upload_mbps: float
    download_mbps: float
    grown_mb: float


def measure(backend: str, env: dict[str, str], size: int) -> Result:
    with (
        api_server(env) as server,
        httpx.Client(base_url=server.base_url, timeout=300) as client,
    ):
        transfer = round_trip(server, client, size)
    return Result(
        backend,
        mbps(size, transfer.upload_seconds),
        mbps(size, transfer.download_seconds),
        transfer.grown_mb,
    )


def main(args: argparse.Namespace) -> None:
    size = args.megabytes * MiB
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-artifacts-"))
    results: list[Result] = []
    notes: list[str] = []
    try:
        copy = file_copy_mbps(work / "baseline" / "data", size)
        print(f"baseline  shutil.copyfile of {args.megabytes} MiB in the data dir: {copy:.0f} MB/s")
        for backend, environment in BACKENDS.items():
            started = time.perf_counter()
            with ExitStack() as stack:
                try:
                    backend_env = stack.enter_context(environment())
                except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
                    if backend != "database-postgres":
                        raise
                    notes.append(f"skipped database-postgres: no cluster ({error})")
                    print(notes[-1])
                    continue
                env = {
                    "MBOX_DATA_DIR": str(work / backend / "data"),
                    "MBOX_ARTIFACT_CONTENT_MAX_BYTES": str(size),
                    **backend_env,
                }
                try:
                    results.append(measure(backend, env, size))
                except Exception:  # keep measuring the other backends; report this one
                    traceback.print_exc()
                    notes.append(f"ERROR {backend}: see the traceback above")
                    print(notes[-1])
                    continue
            print(f"measured  {backend} in {time.perf_counter() - started:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    header = (
        f"{'backend':<18} | {'upload MB/s':>11} | {'download MB/s':>13} | "
        f"{'peak RSS growth MB':>18} | vs file copy (upload / download)"
    )
    print(header)
    print("-" * len(header))
    print(f"{'file copy':<18} | {copy:11.0f} | {copy:13.0f} | {'-':>18} | 100% / 100%")
    for result in results:
        print(
            f"{result.backend:<18} | {result.upload_mbps:11.0f} | {result.download_mbps:13.0f} | "
            f"{result.grown_mb:18.1f} | {result.upload_mbps / copy:.1%} / "
            f"{result.download_mbps / copy:.1%}"
        )
    print()
    if args.smoke:
        print("targets   not judged (smoke)")
    else:
        print_targets(results)
    for note in notes:
        print(f"  note  {note}")
    failed = [note for note in notes if note.startswith("ERROR")]
    check(not failed, f"{len(failed)} backends failed")


def print_targets(results: list[Result]) -> None:
    print("targets")
    for result in results:
        limit = FLAT_MB.get(result.backend, DEFAULT_FLAT_MB)
        verdict = "pass" if result.grown_mb < limit else "MISS"
        print(
            f"  {verdict:4}  {result.backend:<18} peak RSS growth "
            f"{result.grown_mb:6.1f} MB  < {limit:.0f} MB"
        )
    for result in results:
        floor = MIN_DOWNLOAD_MBPS.get(result.backend)
        if floor is not None:
            verdict = "pass" if result.download_mbps >= floor else "MISS"
            print(
                f"  {verdict:4}  {result.backend:<18} download "
                f"{result.download_mbps:6.0f} MB/s >= {floor:.0f} MB/s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=100)
    main(parse_args(parser, {"megabytes": 1}))
