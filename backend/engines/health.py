"""Engines say when they fail.

Every engine loop runs each pass under `EngineHealth.watch`: an exception is logged with
its traceback (`logging.exception`), recorded as the engine's last error with its time,
and the loop goes on. The same error again is logged at most once a minute, with how
often it came meanwhile (a database outage would otherwise log a traceback per engine
per second). A pass that ends with nothing failed clears the record, so `None`
means fine; a failure that repeats every pass stays visible. Failures of one item inside
a pass (a sandbox, a task) are recorded with `failed` and make the pass count as failed.

The records are per process (the engines run in the server's process); `/healthz` and
`/v1/info` show them (see `report`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backend.db import utcnow

# The engines, by the names the API reports them under.
ENGINES = ("reconciler", "taskRunner", "artifactCollector", "auditRetention", "metricsSampler")
MAX_ERROR_CHARS = 2000
REPEAT_LOG_INTERVAL = timedelta(minutes=1)


@dataclass
class EngineHealth:
    name: str
    log: logging.Logger = field(repr=False)
    last_error: str | None = None
    last_error_at: datetime | None = None
    _failing: bool = field(default=False, repr=False)  # something failed in this pass
    _logged: tuple[str, datetime] | None = field(default=None, repr=False)  # error, when
    _unlogged: int = field(default=0, repr=False)  # repeats of it since

    def failed(self, what: str) -> None:
        """Call from an `except` block: log the exception with its traceback (unless the
        same error was logged less than a minute ago) and record it."""
        exc = sys.exc_info()[1]
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
        error, now = f"{what} failed: {reason}"[:MAX_ERROR_CHARS], utcnow()
        if (
            self._logged
            and self._logged[0] == error
            and now - self._logged[1] < REPEAT_LOG_INTERVAL
        ):
            self._unlogged += 1
        else:
            again = self._logged is not None and self._logged[0] == error
            repeats = f" (again {self._unlogged} times since)" if again and self._unlogged else ""
            self.log.exception("%s failed%s", what, repeats)
            self._logged, self._unlogged = (error, now), 0
        self.last_error, self.last_error_at = error, now
        self._failing = True

    @contextlib.contextmanager
    def watch(self, what: str) -> Iterator[None]:
        """One pass of the engine: its exception is logged, recorded and swallowed (never
        a cancellation); a pass where nothing failed clears the last error."""
        self._failing = False
        try:
            yield
        except Exception:
            self.failed(what)
        else:
            if not self._failing:
                self.reset()  # recovered: the same error later is news again

    def reset(self) -> None:
        self.last_error = self.last_error_at = self._logged = None
        self._failing, self._unlogged = False, 0


_RECORDS: dict[str, EngineHealth] = {
    name: EngineHealth(name, logging.getLogger(f"mbox.engines.{name}")) for name in ENGINES
}


def engine_health(name: str, log: logging.Logger | None = None) -> EngineHealth:
    """This process's record of the engine `name` (one of ENGINES), logging to `log`."""
    record = _RECORDS[name]
    if log is not None:
        record.log = log
    return record


def report() -> dict[str, tuple[str | None, datetime | None]]:
    """Every engine's last error and its time, (None, None) when fine."""
    return {name: (record.last_error, record.last_error_at) for name, record in _RECORDS.items()}


def reset() -> None:
    """Forget every recorded error (a fresh server; tests)."""
    for record in _RECORDS.values():
        record.reset()
