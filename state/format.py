"""The console's formatting toolkit: spans, moments, sizes, statuses and ids in the words
every page shows them in (one place, so the pages agree)."""

from __future__ import annotations

import uuid
from datetime import datetime

# Why a sandbox is in its status, in words (anything else is shown as the runtime said it).
REASONS = {
    "ttl": "lease expired",
    "start-failed": "start failed",
    "template-missing": "template deleted",
    "image-not-found": "image not found",
    "image-unauthorized": "the registry refused access to the image",
    "image-unreachable": "the image's registry is unreachable",
    "image-corrupt": "the image is corrupt",
    "image-build-failed": "the image build failed",
}
# Reasons whose message says it all ("pulling <image>: 1.2 MiB of 3.4 MiB", "building ...").
PROGRESS = ("pulling", "building")


def status_words(status: str, reason: str, message: str) -> str:
    """`Stopped: idle — no activity for 3600 s`, `Stopped by request`, `Running`."""
    label = status.capitalize()
    if reason == "user":
        return f"{label} by request"
    if status == "pending" and not reason:
        return "Pending: waiting for the runtime"
    if reason in PROGRESS and message:
        return f"{label}: {message}"
    detail = " — ".join(part for part in (REASONS.get(reason, reason), message) if part)
    return f"{label}: {detail}" if detail else label


def duration(seconds: float) -> str:
    """A span for people: `24 ms`, `1.3 s`, `42 s`, `5 min 3 s`, `1 h`, `2 d 4 h`."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def relative(at: datetime, now: datetime) -> str:
    """`in 59 min` for a moment to come, `1 h ago` for one past."""
    seconds = (at - now).total_seconds()
    return f"in {duration(seconds)}" if seconds > 0 else f"{duration(-seconds)} ago"


def timestamp(value: datetime | None) -> str:
    """`2026-01-31 14:05:09 UTC` (the full moment, for titles), or "" for none."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def clock(value: datetime | None) -> str:
    """`14:05:09` (the time of day, for lists whose title holds the full moment)."""
    return value.strftime("%H:%M:%S") if value else ""


def byte_size(size: int) -> str:
    """`0 B`, `512 B`, `1.5 KiB`, `12 KiB`, `3.1 MiB`, `2.0 GiB`."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def sentence(text: str) -> str:
    """The text with its first letter capitalised (the rest as it is)."""
    return text[:1].upper() + text[1:]


def clean_path(path: str) -> str:
    """A workspace path as typed, without surrounding blanks, slashes or `./` pieces (the
    service refuses the rest in words)."""
    return "/".join(piece for piece in path.strip().split("/") if piece not in ("", "."))


def parse_id(value: str) -> uuid.UUID | None:
    """The uuid a page was given, or None when it is not one."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def short_id(value: str) -> str:
    """The first eight characters of an id, as lists show it."""
    return value[:8]
