"""The reconciler: drives every sandbox's runtime toward what was asked of it.

Level-based and idempotent: each pass reads the database (the truth), asks the runtime
what really is, acts, and reports. It can be killed at any point and run again. It wakes
on change notifications and at least every `reconcile_interval` seconds. Only one
process reconciles at a time (see `leadership`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from backend import changes
from backend.credentials import service as credentials
from backend.db import Database, utcnow
from backend.engines.health import engine_health
from backend.engines.leadership import Leadership
from backend.runtime.base import RuntimeAdapter, RuntimeFailure, RuntimeStatus
from backend.sandboxes import lifetime
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.sessions import service as sessions
from backend.settings import Settings
from backend.templates.models import TemplateRow

log = logging.getLogger("mbox.reconciler")


class Reconciler:
    def __init__(
        self, database: Database, runtime: RuntimeAdapter, settings: Settings | None = None
    ) -> None:
        self.database = database
        self.runtime = runtime
        self.settings = settings  # where this server keeps per-sandbox files (recordings)
        self.health = engine_health("reconciler", log)

    async def run(self, interval: float, leadership: Leadership) -> None:
        """Reconcile forever: every sandbox every `interval` seconds, and in between the
        sandboxes a change notification names, at once (a launch costs one sandbox's
        pass, not a pass over the whole fleet)."""
        wakeup = changes.subscribe("sandboxes")
        clock = asyncio.get_running_loop().time
        only: set[uuid.UUID] | None = None  # None: every sandbox
        next_full = clock()
        try:
            while True:
                if clock() >= next_full:
                    only, next_full = None, clock() + interval
                with self.health.watch("a reconcile pass"):
                    if await leadership.acquire():
                        await self.reconcile_once(only)
                await wakeup.wait_at_most(next_full - clock())
                only = _sandboxes_named(wakeup.take() if wakeup.is_set() else None)
        finally:
            changes.unsubscribe(wakeup)
            await leadership.release()

    async def reconcile_once(self, only: set[uuid.UUID] | None = None) -> None:
        """One pass over every sandbox, or over `only` these."""
        await self.database.call(lifetime.enforce)  # expired and idle sandboxes first
        candidates = await self.database.call(sandboxes.reconcile_candidates, only)
        for sandbox, template in candidates:
            try:
                await self.reconcile(sandbox, template)
            except Exception:  # one sandbox's trouble must not stall the others
                self.health.failed(f"reconciling sandbox {sandbox.id}")

    async def reconcile(self, sandbox: SandboxRow, template: TemplateRow | None) -> None:
        observed = await self.runtime.status(sandbox.id)
        desired = sandbox.desired_state
        if desired == "deleted":
            await self.runtime.delete(sandbox.id)
            if self.settings is not None:
                await asyncio.to_thread(sessions.remove_recordings, self.settings, sandbox.id)
            await self._report(sandbox, runtime_ref=None)
        elif desired == "stopped":
            if observed.phase != "missing":
                await self.runtime.stop(sandbox.id)
            if sandbox.status not in ("stopped", "failed"):  # a failure stays visible
                await self._report(sandbox, status="stopped")
        elif observed.phase == "missing":
            await self._start(sandbox, template)
        elif _failed_before_started(sandbox, observed):  # started again: replace what failed
            await self.runtime.delete(sandbox.id)
            await self._start(sandbox, template)
        else:
            await self._observed(sandbox, observed)

    async def _observed(self, sandbox: SandboxRow, observed: RuntimeStatus, **extra: Any) -> None:
        """Report what the runtime says of a sandbox meant to run (that it exists)."""
        extra |= _newly_scheduled(sandbox, observed)
        if observed.phase == "running":
            if sandbox.status != "running" or sandbox.runtime_ref != observed.ref or extra:
                await self._report_running(sandbox, observed, **extra)  # else: as it should be
        elif observed.phase == "starting":  # a cluster is scheduling, pulling, starting it
            message, reason = observed.message[:2000], observed.reason
            changed = (sandbox.status_message, sandbox.status_reason) != (message, reason)
            if changed or sandbox.runtime_ref != observed.ref or extra:
                fields = {"runtime_ref": observed.ref, "status_message": message, **extra}
                await self._report(sandbox, status="pending", status_reason=reason, **fields)
        elif observed.phase == "exited":
            await self._report_exit(sandbox, observed)
        else:  # failed: it will not start by itself
            reason = observed.reason or "start-failed"
            await self._fail(sandbox, reason, observed.message, runtime_ref=observed.ref)

    async def _start(self, sandbox: SandboxRow, template: TemplateRow | None) -> None:
        if template is None:
            await self._fail(sandbox, "template-missing", "the sandbox's template was deleted")
            return
        restarting = sandbox.status == "running"  # it ran before: this server restarted
        started_at = utcnow()
        mounts, registries = await self.database.call(
            credentials.sandbox_credentials, sandbox.project_id
        )
        spec = sandboxes.sandbox_spec(sandbox, template, mounts, registries)
        try:
            observed = await self.runtime.ensure(spec)
        except RuntimeFailure as exc:
            await self._fail(sandbox, "start-failed", str(exc), started_at=started_at)
            return
        if observed.phase == "running":
            reason = "restarted" if restarting else ""
            await self._report_running(sandbox, observed, reason=reason, started_at=started_at)
        else:
            await self._observed(sandbox, observed, started_at=started_at)

    async def _report_running(
        self, sandbox: SandboxRow, observed: RuntimeStatus, reason: str = "", **extra: Any
    ) -> None:
        fields: dict[str, Any] = {"status": "running", "runtime_ref": observed.ref, **extra}
        fields |= _newly_scheduled(sandbox, observed)
        if sandbox.status != "running" or reason:  # newly ready (again)
            started = fields.get("started_at") or sandbox.started_at or sandbox.requested_at
            ready_at = _not_before(observed.ready_at or utcnow(), started)
            fields |= {"ready_at": ready_at, "status_reason": reason}
            fields |= {"status_message": "", "last_activity_at": utcnow()}
        await self._report(sandbox, **fields)

    async def _report_exit(self, sandbox: SandboxRow, observed: RuntimeStatus) -> None:
        """The main process ended by itself: stop there (no restart loop)."""
        await self.runtime.stop(sandbox.id)
        status, reason = ("stopped", "exited") if observed.exit_code == 0 else ("failed", "crashed")
        await self._report(
            sandbox,
            status=status,
            status_reason=reason,
            status_message=observed.message,
            stopped_at=utcnow(),
            desired_state="stopped",
        )

    async def _fail(self, sandbox: SandboxRow, reason: str, message: str, **extra: Any) -> None:
        await self._report(
            sandbox,
            status="failed",
            status_reason=reason,
            status_message=message[:2000],
            desired_state="stopped",  # no retry loop: the user starts it again
            **extra,
        )

    async def _report(self, sandbox: SandboxRow, **fields: Any) -> None:
        await self.database.call(
            sandboxes.report_runtime,
            sandbox_id=sandbox.id,
            acted_on=sandbox.desired_state,
            **fields,
        )


def _failed_before_started(sandbox: SandboxRow, observed: RuntimeStatus) -> bool:
    """A runtime that failed for good before the user last asked the sandbox to run (a
    claim agent-sandbox gave up on): that start asks for a new one. A cluster's times are
    whole seconds: a failure in the second of the request may have followed it."""
    failed_at, asked_at = observed.failed_at, sandbox.requested_at
    if observed.phase != "failed" or failed_at is None or asked_at is None:
        return False
    return failed_at < asked_at.replace(microsecond=0)


def _sandboxes_named(keys: set[str] | None) -> set[uuid.UUID] | None:
    """The sandboxes a wake-up named; None (all of them) if it named nothing, or not ids."""
    try:
        return None if keys is None else {uuid.UUID(str(key)) for key in keys}
    except ValueError:
        return None


def _newly_scheduled(sandbox: SandboxRow, observed: RuntimeStatus) -> dict[str, Any]:
    """The scheduledAt to record, when the runtime says one that is not recorded yet."""
    if observed.scheduled_at is None:
        return {}
    scheduled_at = _not_before(observed.scheduled_at, sandbox.requested_at)
    return {} if scheduled_at == sandbox.scheduled_at else {"scheduled_at": scheduled_at}


def _not_before(moment: datetime, earlier: datetime | None) -> datetime:
    """A cluster's time (whole seconds) never before mbox's own earlier phase: the phases
    read in order."""
    return max(moment, earlier) if earlier is not None else moment
