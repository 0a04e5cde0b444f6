"""Live resource use: the samples the metrics sampler stores, and what the API shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime
from backend.schemas import PublicModel

SOURCES = ("cgroups", "metrics-api", "none")
Source = Literal["cgroups", "metrics-api", "none"]


def _count() -> Any:
    return Field(default=None, sa_type=sa.BigInteger, nullable=True)


class SandboxMetricSampleRow(SQLModel, table=True):
    """One sandbox's resource use at one moment, as its runtime measured it. Counters are
    cumulative (rates come from two samples); None: the runtime cannot tell. Kept for
    MBOX_METRICS_RETENTION_SECONDS."""

    __tablename__ = "sandbox_metric_samples"

    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, primary_key=True, index=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    source: str
    cpu_usage_usec: int | None = _count()
    cpu_millicores: float | None = Field(default=None, sa_type=sa.Float, nullable=True)
    cpu_limit_millicores: int | None = _count()
    memory_bytes: int | None = _count()
    memory_limit_bytes: int | None = _count()
    disk_bytes: int | None = _count()
    disk_limit_bytes: int | None = _count()
    processes: int | None = _count()
    process_limit: int | None = _count()
    network_rx_bytes: int | None = _count()
    network_tx_bytes: int | None = _count()


class SandboxMetricSample(PublicModel):
    """A sandbox's use at `at`. CPU and network rates are averages since the sample
    before; a field the runtime cannot measure is omitted."""

    at: datetime
    cpu_millicores: float | None = None
    cpu_limit_millicores: int | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    disk_bytes: int | None = None
    disk_limit_bytes: int | None = None
    processes: int | None = None
    process_limit: int | None = None
    network_rx_bytes_per_second: float | None = None
    network_tx_bytes_per_second: float | None = None
    network_rx_bytes: int | None = None
    network_tx_bytes: int | None = None


class SandboxMetrics(PublicModel):
    """A sandbox's samples over the last `window_seconds`, oldest first."""

    sandbox_id: uuid.UUID
    interval_seconds: float
    window_seconds: int
    source: Source
    samples: list[SandboxMetricSample]
    latest: SandboxMetricSample | None = None
