"""Live resource use per sandbox: the samples the metrics sampler stores, read back as
charts (a window of samples), the sandboxes list's latest values, and a project's sums.

Samples hold what the runtime measured (cumulative counters); rates (CPU millicores,
network bytes per second) are derived here from two consecutive samples of a sandbox,
so a lost round or a restart (a counter that goes back) costs one point, never a wrong
one. Reads are scoped like every other read: a sandbox the principal cannot see is a 404.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import utcnow
from backend.errors import InvalidInput
from backend.metrics.models import (
    SOURCES,
    SandboxMetrics,
    SandboxMetricSample,
    SandboxMetricSampleRow,
)
from backend.projects.models import ProjectLiveUsage
from backend.runtime.base import ResourceSample
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.settings import Settings, get_settings

DEFAULT_WINDOW_SECONDS = 300
MAX_SAMPLES = 5000  # per read, the newest: a long window at a short interval stays bounded
FRESH_ROUNDS = 3  # a latest sample older than this many intervals is not live any more
MIN_FRESH_SECONDS = 30
# What a public sample shows as stored (the rates are derived).
MEASURED = set(SandboxMetricSample.model_fields) - {
    "cpu_millicores",
    "network_rx_bytes_per_second",
    "network_tx_bytes_per_second",
}


# -- reads ------------------------------------------------------------------------------


def check_window(window_seconds: object, settings: Settings) -> int:
    """A window of 1 second up to the retention (what is kept), as a whole number."""
    retention = settings.metrics_retention_seconds
    if (
        isinstance(window_seconds, bool)
        or not isinstance(window_seconds, int)
        or not 1 <= window_seconds <= retention
    ):
        raise InvalidInput(
            f"window must be a whole number of seconds from 1 to {retention}", field="window"
        )
    return window_seconds


def sandbox_metrics(
    db: Session,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    window_seconds: int,
    settings: Settings | None = None,
) -> SandboxMetrics:
    """The sandbox's samples of the last `window_seconds`, oldest first, with rates."""
    settings = settings or get_settings()
    window = check_window(window_seconds, settings)
    sandboxes.operable(db, principal, sandbox_id, Permission.READ)  # 404 outside its projects
    since = utcnow() - timedelta(seconds=window)
    of_sandbox = SandboxMetricSampleRow.sandbox_id == sandbox_id
    rows = list(
        db.exec(
            select(SandboxMetricSampleRow)
            .where(of_sandbox, col(SandboxMetricSampleRow.at) >= since)
            .order_by(col(SandboxMetricSampleRow.at).desc())
            .limit(MAX_SAMPLES)
        )
    )[::-1]
    before = db.exec(
        select(SandboxMetricSampleRow)
        .where(of_sandbox, col(SandboxMetricSampleRow.at) < (rows[0].at if rows else since))
        .order_by(col(SandboxMetricSampleRow.at).desc())
        .limit(1)
    ).first()
    samples = _derived([before, *rows] if before else rows)[1 if before else 0 :]
    return SandboxMetrics(
        sandbox_id=sandbox_id,
        interval_seconds=settings.metrics_interval_seconds,
        window_seconds=window,
        source=_source(rows[-1].source) if rows else "none",
        samples=samples,
        latest=samples[-1] if samples else None,
    )


def latest_samples(
    db: Session,
    *,
    principal: Principal,
    sandbox_ids: list[uuid.UUID],
    settings: Settings | None = None,
) -> dict[uuid.UUID, SandboxMetricSample]:
    """Each sandbox's latest live sample (for a sandboxes list): only the sandboxes the
    principal may read, and only samples of the last few rounds (a stopped sandbox has
    none)."""
    if not sandbox_ids or not access.can(principal, Permission.READ):
        return {}
    settings = settings or get_settings()
    rows = _latest_two(db, col(SandboxMetricSampleRow.sandbox_id).in_(set(sandbox_ids)), settings)
    return {
        sandbox_id: latest
        for sandbox_id, (project_id, latest) in _latest_by_sandbox(rows).items()
        if access.sees(principal, project_id)
    }


def project_live(
    db: Session, project_id: uuid.UUID, settings: Settings | None = None
) -> ProjectLiveUsage:
    """The latest sample of each running sandbox of the project, summed."""
    settings = settings or get_settings()
    running = select(SandboxRow.id).where(
        SandboxRow.project_id == project_id,
        SandboxRow.status == "running",
        col(SandboxRow.deleted_at).is_(None),
    )
    rows = _latest_two(
        db,
        (SandboxMetricSampleRow.project_id == project_id)
        & col(SandboxMetricSampleRow.sandbox_id).in_(running),
        settings,
    )
    latest = [sample for _, sample in _latest_by_sandbox(rows).values()]
    return ProjectLiveUsage(
        sampled_sandboxes=len(latest),
        cpu_millicores=_sum(sample.cpu_millicores for sample in latest),
        memory_bytes=int(_sum(sample.memory_bytes for sample in latest)),
        disk_bytes=int(_sum(sample.disk_bytes for sample in latest)),
        processes=int(_sum(sample.processes for sample in latest)),
        network_rx_bytes_per_second=_sum(s.network_rx_bytes_per_second for s in latest),
        network_tx_bytes_per_second=_sum(s.network_tx_bytes_per_second for s in latest),
        at=max((sample.at for sample in latest), default=None),
    )


def _latest_two(
    db: Session, matching: sa.ColumnElement[bool], settings: Settings
) -> list[SandboxMetricSampleRow]:
    """The two newest fresh samples of each matching sandbox (one window query)."""
    fresh = max(FRESH_ROUNDS * settings.metrics_interval_seconds, MIN_FRESH_SECONDS)
    rank = (
        sa.func.row_number()
        .over(
            partition_by=SandboxMetricSampleRow.sandbox_id,
            order_by=col(SandboxMetricSampleRow.at).desc(),
        )
        .label("rank")
    )
    ranked = (
        select(SandboxMetricSampleRow, rank)
        .where(matching, col(SandboxMetricSampleRow.at) >= utcnow() - timedelta(seconds=fresh))
        .subquery()
    )
    newest = sa.orm.aliased(SandboxMetricSampleRow, ranked)
    query = select(newest).where(ranked.c.rank <= 2).order_by(ranked.c.sandbox_id, ranked.c.at)
    return list(db.exec(query))


def _latest_by_sandbox(
    rows: Sequence[SandboxMetricSampleRow],
) -> dict[uuid.UUID, tuple[uuid.UUID, SandboxMetricSample]]:
    """Per sandbox (rows ordered by sandbox, then time): its project and latest sample."""
    grouped: dict[uuid.UUID, list[SandboxMetricSampleRow]] = {}
    for row in rows:
        grouped.setdefault(row.sandbox_id, []).append(row)
    return {
        sandbox_id: (pair[-1].project_id, _derived(pair)[-1])
        for sandbox_id, pair in grouped.items()
    }


def _sum(values: Iterable[float | int | None]) -> float:
    return float(sum(value for value in values if value is not None))


def _source(text: str) -> str:
    return text if text in SOURCES else "none"


# -- rates --------------------------------------------------------------------------------


def _derived(rows: Sequence[SandboxMetricSampleRow]) -> list[SandboxMetricSample]:
    """Public samples of one sandbox's rows (oldest first), each rate from its predecessor."""
    samples, previous = [], None
    for row in rows:
        span = (row.at - previous.at).total_seconds() if previous else 0.0
        usec = _delta(previous, row, "cpu_usage_usec")
        cpu = row.cpu_millicores if row.cpu_millicores is not None else _per(usec, span, 1000)
        samples.append(
            SandboxMetricSample(
                **row.model_dump(include=MEASURED),
                cpu_millicores=cpu,
                network_rx_bytes_per_second=_per(_delta(previous, row, "network_rx_bytes"), span),
                network_tx_bytes_per_second=_per(_delta(previous, row, "network_tx_bytes"), span),
            )
        )
        previous = row
    return samples


def _delta(
    previous: SandboxMetricSampleRow | None, row: SandboxMetricSampleRow, name: str
) -> int | None:
    """How much a cumulative counter grew; None across a reset (a restarted sandbox)."""
    before = getattr(previous, name) if previous else None
    now = getattr(row, name)
    if before is None or now is None or now < before:
        return None
    return now - before


def _per(amount: int | None, seconds: float, scale: float = 1.0) -> float | None:
    """`amount` per second (divided by `scale`: microseconds per second / 1000 is millicores)."""
    if amount is None or seconds <= 0:
        return None
    return round(amount / seconds / scale, 3)


# -- the sampler's side --------------------------------------------------------------------


def running_sandboxes(db: Session) -> dict[uuid.UUID, uuid.UUID]:
    """Every running sandbox, with its project: what a sampling round measures."""
    rows = db.exec(
        select(SandboxRow.id, SandboxRow.project_id).where(
            SandboxRow.status == "running", col(SandboxRow.deleted_at).is_(None)
        )
    )
    return {sandbox_id: project_id for sandbox_id, project_id in rows}


def store_round(
    db: Session,
    *,
    samples: Mapping[uuid.UUID, ResourceSample],
    projects: Mapping[uuid.UUID, uuid.UUID],
    retention_seconds: int,
) -> int:
    """One round in one transaction: its samples (of sandboxes that still exist) stored,
    samples older than the retention removed. Returns how many were stored."""
    present = set(
        db.exec(select(SandboxRow.id).where(col(SandboxRow.id).in_(set(samples))))
        if samples
        else ()
    )
    rows = [
        _row(sandbox_id, projects[sandbox_id], sample)
        for sandbox_id, sample in samples.items()
        if sandbox_id in present and sandbox_id in projects
    ]
    db.add_all(rows)
    prune(db, before=utcnow() - timedelta(seconds=retention_seconds))
    db.commit()
    return len(rows)


def prune(db: Session, *, before: datetime) -> None:
    db.exec(delete(SandboxMetricSampleRow).where(col(SandboxMetricSampleRow.at) < before))  # type: ignore[call-overload]


def _row(sandbox_id: uuid.UUID, project_id: uuid.UUID, sample: ResourceSample):
    measured = dataclasses.asdict(sample) | {"source": _source(sample.source)}
    return SandboxMetricSampleRow(sandbox_id=sandbox_id, project_id=project_id, **measured)
