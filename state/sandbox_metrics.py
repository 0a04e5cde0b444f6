"""The sandbox page's live resource charts: CPU, memory against its limit, disk against
its quota, processes against their limit and network, from the metrics sampler's samples
(backend/metrics/service.py) over the last `WINDOW_SECONDS`.

Each chart is a value in words and a row of bars, oldest first. With a limit the bars are
scaled to it (a full bar is the limit), else to the window's largest value. A value the
runtime does not know is "—" and an empty bar, never 0. The page reads them only while its
details are open (with the page's tick), so a closed page costs nothing."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from backend.auth.models import Principal
from backend.metrics import service as metrics
from backend.metrics.models import SandboxMetrics, SandboxMetricSample
from backend.projects.models import ProjectLiveUsage
from state.base import db_session
from state.format import byte_size, clock

WINDOW_SECONDS = 600  # ten minutes of samples
UNKNOWN = "—"


@dataclasses.dataclass
class Bar:
    height: str = "0%"  # of the chart's height
    known: bool = False
    title: str = ""  # the sample's time and value (on hover)


@dataclasses.dataclass
class ResourceChart:
    title: str = ""
    value: str = UNKNOWN  # the latest, in words
    note: str = ""  # its limit, or why there is none
    bars: list[Bar] = dataclasses.field(default_factory=list)
    summary: str = ""  # the chart in one sentence, for assistive technology


def _cores(millicores: float | int | None) -> str:
    return UNKNOWN if millicores is None else f"{millicores / 1000:.2f} CPU"


def _bytes(amount: float | int | None) -> str:
    return UNKNOWN if amount is None else byte_size(int(amount))


def _rate(amount: float | int | None) -> str:
    return UNKNOWN if amount is None else f"{byte_size(int(amount))}/s"


def _count(amount: float | int | None) -> str:
    return UNKNOWN if amount is None else str(int(amount))


def _network(sample: SandboxMetricSample) -> float | None:
    rates = (sample.network_rx_bytes_per_second, sample.network_tx_bytes_per_second)
    return None if all(rate is None for rate in rates) else sum(rate or 0 for rate in rates)


def _chart(
    title: str,
    samples: list[SandboxMetricSample],
    value_of: Callable[[SandboxMetricSample], float | int | None],
    limit_of: Callable[[SandboxMetricSample], float | int | None],
    words: Callable[[float | int | None], str],
    unlimited: str = "no limit known",
) -> ResourceChart:
    values = [value_of(sample) for sample in samples]
    latest = samples[-1] if samples else None
    limit = limit_of(latest) if latest else None
    scale = limit or max((value for value in values if value), default=0) or 1
    bars = [
        Bar(
            height=f"{min(100.0, 100.0 * value / scale):.1f}%" if value is not None else "0%",
            known=value is not None,
            title=f"{clock(sample.at)}: {words(value)}",
        )
        for sample, value in zip(samples, values, strict=True)
    ]
    value = words(values[-1] if values else None)
    note = f"of {words(limit)}" if limit else unlimited
    return ResourceChart(
        title,
        value,
        note,
        bars,
        f"{title}: {value}, {note}; {len(bars)} samples over the last "
        f"{WINDOW_SECONDS // 60} minutes.",
    )


def resource_charts(found: SandboxMetrics) -> list[ResourceChart]:
    samples = found.samples
    return [
        _chart(
            "CPU", samples, lambda s: s.cpu_millicores, lambda s: s.cpu_limit_millicores, _cores
        ),
        _chart("Memory", samples, lambda s: s.memory_bytes, lambda s: s.memory_limit_bytes, _bytes),
        _chart("Disk", samples, lambda s: s.disk_bytes, lambda s: s.disk_limit_bytes, _bytes),
        _chart("Processes", samples, lambda s: s.processes, lambda s: s.process_limit, _count),
        _chart("Network", samples, _network, lambda s: None, _rate, "received and sent"),
    ]


def read_resources(principal: Principal, sandbox_id: str) -> tuple[list[ResourceChart], str]:
    """The charts, and a line about them ("" when there are samples)."""
    with db_session(principal) as db:
        found = metrics.sandbox_metrics(
            db,
            principal=principal,
            sandbox_id=uuid.UUID(sandbox_id),
            window_seconds=WINDOW_SECONDS,
        )
    if not found.samples:
        note = "No samples yet: the server measures running sandboxes every "
        return [], note + f"{found.interval_seconds:g} s."
    return resource_charts(found), f"Sampled every {found.interval_seconds:g} s ({found.source})."


def usage_words(sample: SandboxMetricSample | None) -> tuple[str, str]:
    """A sandbox's latest use for a list row: short ("0.12 CPU · 85.0 MiB") and whole
    (with disk, processes and network, for the row's title); "—" without a sample."""
    if sample is None:
        return UNKNOWN, "No recent sample (the sandbox is not running, or not measured yet)."
    short = f"{_cores(sample.cpu_millicores)} · {_bytes(sample.memory_bytes)}"
    whole = (
        f"CPU {_cores(sample.cpu_millicores)}, memory {_bytes(sample.memory_bytes)}, "
        f"disk {_bytes(sample.disk_bytes)}, {_count(sample.processes)} processes, "
        f"network {_rate(_network(sample))} at {clock(sample.at)}"
    )
    return short, whole


def live_words(live: ProjectLiveUsage | None) -> str:
    """What a project's running sandboxes use now (their latest samples summed)."""
    if live is None or not live.sampled_sandboxes:
        return "No running sandbox measured in the last few rounds."
    network = live.network_rx_bytes_per_second + live.network_tx_bytes_per_second
    return (
        f"{live.sampled_sandboxes} running "
        f"{'sandbox uses' if live.sampled_sandboxes == 1 else 'sandboxes use'} "
        f"{_cores(live.cpu_millicores)}, {_bytes(live.memory_bytes)} of memory, "
        f"{_bytes(live.disk_bytes)} of disk, {live.processes} processes and "
        f"{_rate(network)} of network now."
    )
