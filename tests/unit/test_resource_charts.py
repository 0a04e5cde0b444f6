"""The sandbox page's resource charts (state/sandbox_metrics.py): limits scale the bars,
an unknown value is "—" and an empty slot (never 0), network adds both directions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.metrics.models import SandboxMetrics, SandboxMetricSample
from backend.projects.models import ProjectLiveUsage
from state.sandbox_metrics import UNKNOWN, live_words, resource_charts, usage_words

START = datetime(2026, 1, 1, tzinfo=UTC)


def metrics(*samples: SandboxMetricSample) -> SandboxMetrics:
    return SandboxMetrics(
        sandbox_id=uuid.uuid4(),
        interval_seconds=10,
        window_seconds=600,
        source="cgroups",
        samples=list(samples),
        latest=samples[-1] if samples else None,
    )


def sample(seconds: int, **values: float | int | None) -> SandboxMetricSample:
    return SandboxMetricSample(at=START + timedelta(seconds=seconds), **values)


def test_limits_scale_the_bars_and_unknowns_are_dashes() -> None:
    mib = 1024 * 1024
    charts = resource_charts(
        metrics(
            sample(0, memory_bytes=128 * mib, memory_limit_bytes=512 * mib, processes=3),
            sample(10, memory_bytes=256 * mib, memory_limit_bytes=512 * mib, processes=None),
        )
    )
    by_title = {chart.title: chart for chart in charts}
    assert list(by_title) == ["CPU", "Memory", "Disk", "Processes", "Network"]
    memory = by_title["Memory"]
    assert memory.value == "256 MiB" and memory.note == "of 512 MiB"
    assert [bar.height for bar in memory.bars] == ["25.0%", "50.0%"]
    processes = by_title["Processes"]
    assert processes.value == UNKNOWN and processes.note == "no limit known"
    assert [bar.known for bar in processes.bars] == [True, False]  # an empty slot, not a 0
    cpu = by_title["CPU"]
    assert cpu.value == UNKNOWN and not any(bar.known for bar in cpu.bars)
    assert "2 samples" in memory.summary


def test_network_adds_both_directions_and_scales_to_the_largest() -> None:
    charts = resource_charts(
        metrics(
            sample(0, network_rx_bytes_per_second=100.0, network_tx_bytes_per_second=None),
            sample(10, network_rx_bytes_per_second=300.0, network_tx_bytes_per_second=100.0),
        )
    )
    network = charts[-1]
    assert network.value == "400 B/s" and network.note == "received and sent"
    assert [bar.height for bar in network.bars] == ["25.0%", "100.0%"]


def test_no_samples_no_bars() -> None:
    assert all(chart.value == UNKNOWN and not chart.bars for chart in resource_charts(metrics()))


def test_a_list_row_says_cpu_and_memory_and_the_rest_in_its_title() -> None:
    mib = 1024 * 1024
    short, whole = usage_words(
        sample(0, cpu_millicores=120.0, memory_bytes=85 * mib, processes=4, disk_bytes=None)
    )
    assert short == "0.12 CPU · 85 MiB"
    assert whole.startswith("CPU 0.12 CPU, memory 85 MiB, disk —, 4 processes, network —")
    assert usage_words(None)[0] == UNKNOWN


def test_a_projects_live_use_is_said_in_words() -> None:
    live = ProjectLiveUsage(
        sampled_sandboxes=2,
        cpu_millicores=450.0,
        memory_bytes=1024**3,
        disk_bytes=0,
        processes=12,
        network_rx_bytes_per_second=1000.0,
        network_tx_bytes_per_second=24.0,
    )
    assert live_words(live) == (
        "2 running sandboxes use 0.45 CPU, 1.0 GiB of memory, 0 B of disk, 12 processes "
        "and 1.0 KiB/s of network now."
    )
    assert live_words(None).startswith("No running sandbox")
