"""Benchmark the audit chain: events written per second with sealing (the hash chain,
sealed at commit under the head lock) against the same transactions without it, in the
same run; and verification throughput.

    .venv/bin/python tests/bench/bench_audit.py [--transactions 2000] [--writers 8]
    .venv/bin/python tests/bench/bench_audit.py --smoke   # tiny: the test suite's run

Each database (SQLite file; Postgres on a throwaway cluster, skipped with a note when the
server binaries are missing) is migrated fresh. The write workload is what a mutation
does: one transaction that records one audit event and commits, `--transactions` of them
spread over `--writers` threads. The baseline is the same workload with the sealing
listener removed (events written unsealed). Then `--verify-events` sealed events (100 a
transaction, one writer) are verified by backend.audit.service.verify_chain, timed, with
the process's RSS growth during the walk (batches keep memory flat).

Targets (not judged in a smoke run): sealed writes >= 50% of the unsealed baseline's rate;
verify >= 20,000 events/s. A miss prints MISS; the exit code is 0 either way unless a
correctness check fails (the chain must verify, seq must be contiguous).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from backend.audit import sealing
from backend.audit import service as audit
from backend.audit.models import AuditEventRow
from backend.auth.models import Principal
from backend.db import Database
from backend.settings import load_settings
from tests.bench.harness import check, parse_args, rss_mb

BENCH = Principal(subject="bench", role="admin", source="bench")
MIN_SEALED_RATIO = 0.5
MIN_VERIFY_RATE = 20_000.0
EVENTS = AuditEventRow.__table__


@contextlib.contextmanager
def unsealed() -> Iterator[None]:
    """The baseline: the same commits with the sealing listener off."""
    sa.event.remove(orm.Session, "before_commit", sealing.seal)
    try:
        yield
    finally:
        sa.event.listen(orm.Session, "before_commit", sealing.seal)


def write(database: Database, transactions: int, writers: int, per_tx: int = 1) -> float:
    """Events per second: `transactions` commits of `per_tx` events over `writers` threads."""
    shares = [transactions // writers + (i < transactions % writers) for i in range(writers)]

    def writer(count: int) -> None:
        with database.session() as db:
            for _ in range(count):
                for _ in range(per_tx):
                    audit.record(
                        db,
                        principal=BENCH,
                        action="bench.event",
                        resource_type="bench",
                        resource_name="x",
                        metadata={"operation": "bench", "n": 1},
                    )
                db.commit()

    threads = [threading.Thread(target=writer, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return transactions * per_tx / (time.perf_counter() - started)


def empty(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(EVENTS.delete())
        conn.execute(sa.text("UPDATE audit_chain_head SET seq = 0, hash = :h"), {"h": "0" * 64})


def bench(name: str, url: str, args: argparse.Namespace, data_dir: Path) -> list[str]:
    database = Database(url)
    database.migrate()
    misses: list[str] = []
    try:
        with unsealed():
            baseline = write(database, args.transactions, args.writers)
        empty(database)
        sealed = write(database, args.transactions, args.writers)
        with database.engine.connect() as conn:
            seqs = conn.execute(sa.select(EVENTS.c.seq).order_by(EVENTS.c.seq)).scalars().all()
        check(seqs == list(range(1, args.transactions + 1)), f"{name}: seq not contiguous")
        ratio = sealed / baseline
        print(f"audit writes, {name}, unsealed (baseline)  {baseline:9.0f} events/s", flush=True)
        print(
            f"audit writes, {name}, sealed               {sealed:9.0f} events/s"
            f"   ({ratio:.0%} of baseline, {args.writers} writers)",
            flush=True,
        )
        if not args.smoke and ratio < MIN_SEALED_RATIO:
            misses.append(f"{name}: sealed writes {ratio:.0%} of baseline")
        write(database, args.verify_events // 100, 1, per_tx=100)
        settings = load_settings(data_dir=data_dir, database_url=url)
        before = rss_mb()
        started = time.perf_counter()
        with database.session() as db:
            report = audit.verify_chain(db, principal=BENCH, settings=settings)
        seconds = time.perf_counter() - started
        check(report.verified, f"{name}: the chain does not verify: {report.broken}")
        rate = report.checked_events / seconds
        print(
            f"verify, {name}  {rate:9.0f} events/s   ({report.checked_events} events, "
            f"RSS +{rss_mb() - before:.1f} MB)",
            flush=True,
        )
        if not args.smoke and rate < MIN_VERIFY_RATE:
            misses.append(f"{name}: verify {rate:.0f} events/s")
    finally:
        database.dispose()
    return misses


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE bench_audit"))
        admin.dispose()
        yield cluster.url("bench_audit")
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--verify-events", type=int, default=100_000)
    args = parse_args(parser, {"transactions": 40, "writers": 4, "verify_events": 400})
    misses: list[str] = []
    with tempfile.TemporaryDirectory() as temp:
        misses += bench("sqlite", f"sqlite:///{temp}/bench.db", args, Path(temp))
        with contextlib.ExitStack() as stack:
            try:
                url = stack.enter_context(postgres_url())
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                # No server binaries, or a temp dir the postgres user cannot enter (smoke).
                print(f"skipped postgres: no cluster ({exc})", flush=True)
            else:
                misses += bench("postgres", url, args, Path(temp))
    for miss in misses:
        print(f"MISS      {miss}", flush=True)


if __name__ == "__main__":
    main()
