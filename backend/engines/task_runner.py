"""The task runner: claims queued tasks and runs them in their sandboxes.

Output is appended to the output store as it arrives (event streams read it from there),
the first `HEAD_BYTES` of each stream are also kept on the task row. A timeout or a cancel
request escalates SIGINT -> SIGTERM -> SIGKILL on the task's process group, `grace`
seconds apart. On start it fails the tasks a previous server process left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from backend import changes
from backend.db import Database
from backend.engines.health import engine_health
from backend.runtime.base import ExecProcess, RuntimeAdapter, RuntimeFailure
from backend.tasks import service as tasks
from backend.tasks.models import ExecutionTaskRow
from backend.tasks.output import OutputStore

log = logging.getLogger("mbox.tasks")
HEAD_BYTES = 64 * 1024  # per stream, on the task row (the reference's cap)
ESCALATION = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


class TaskRunner:
    def __init__(
        self,
        database: Database,
        runtime: RuntimeAdapter,
        output: OutputStore,
        grace: float = 2.0,
        collect: Callable[[ExecutionTaskRow], Awaitable[object]] | None = None,
    ) -> None:
        self.database = database
        self.runtime = runtime
        self.output = output
        self.grace = grace
        self.collect = collect  # gathers a finished task's declared artifacts
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[uuid.UUID, asyncio.Task] = {}
        self.health = engine_health("taskRunner", log)

    async def run(self, interval: float) -> None:
        abandoned_failed = False  # the tasks a previous server left running, once
        wakeup = changes.subscribe("task-queue")
        named: set[str] | None = None  # the tasks a wake-up named; None/empty: look at all
        try:
            while True:
                with self.health.watch("a task runner pass"):
                    if not abandoned_failed:
                        await self.database.call(tasks.fail_abandoned, runner=self.name)
                        abandoned_failed = True
                    if named:
                        await self.take_named(named)
                    else:
                        await self.start_queued()
                await wakeup.wait_at_most(interval)
                named = wakeup.take()
        finally:
            changes.unsubscribe(wakeup)
            for job in self._running.values():
                job.cancel()

    async def start_queued(self) -> None:
        for task in await self.database.read(tasks.queued):
            if task.id in self._running:
                continue
            if await self.database.call(tasks.claim, task_id=task.id, runner=self.name):
                self._start(task)

    async def take_named(self, task_ids: set[str]) -> None:
        """The tasks just queued, claimed by id: no scan of the queue on the way."""
        for task_id in task_ids:
            task = await self.database.call(
                tasks.take, task_id=uuid.UUID(task_id), runner=self.name
            )
            if task is not None:
                self._start(task)

    def _start(self, task: ExecutionTaskRow) -> None:
        job = asyncio.create_task(self._execute_watched(task))
        self._running[task.id] = job
        job.add_done_callback(lambda _, task_id=task.id: self._running.pop(task_id, None))

    async def wait_idle(self) -> None:
        """Until every task this runner started has finished (for tests)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _execute_watched(self, task: ExecutionTaskRow) -> None:
        try:
            await self.execute(task)
        except Exception:  # logged and recorded, not left for the garbage collector
            self.health.failed(f"running task {task.id}")

    async def execute(self, task: ExecutionTaskRow) -> None:
        try:
            process = await self.runtime.exec(
                task.sandbox_id, task.command, env=task.env, cwd=task.cwd or None
            )
        except RuntimeFailure as exc:
            await self._finish(task, "failed", error=f"could not start the task: {exc}")
            return
        heads = {"stdout": bytearray(), "stderr": bytearray()}
        pumps = asyncio.gather(
            self._pump(task.id, "stdout", process.stdout(), heads["stdout"]),
            self._pump(task.id, "stderr", process.stderr(), heads["stderr"]),
        )
        outcome = await self._supervise(task, process)
        code = await process.wait()
        await pumps
        status, error = outcome or (("succeeded", "") if code == 0 else ("failed", ""))
        if status == "failed" and not error:
            error = f"exited with code {code}" if code >= 0 else f"killed by signal {-code}"
        await self._collect(task)
        await self._finish(
            task, status, error=error, exit_code=code if code >= 0 else None, heads=heads
        )

    async def _collect(self, task: ExecutionTaskRow) -> None:
        """Artifacts exist before the task reads as finished, whatever its outcome (the
        logs of a failed run matter most)."""
        if self.collect is None or not task.artifact_paths:
            return
        try:
            await self.collect(task)
        except Exception:
            self.health.failed(f"collecting the artifacts of task {task.id}")

    async def _supervise(self, task: ExecutionTaskRow, process: ExecProcess) -> tuple | None:
        """Wait for the process, a cancel request, or the timeout; stop it for the latter.
        A cancel request is looked for when a change names this task (and each quiet
        second): a short task ends without a database read of its own."""
        waiting = asyncio.ensure_future(process.wait())
        deadline = asyncio.get_running_loop().time() + task.timeout_seconds
        wakeup = changes.subscribe("tasks")
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    await self._stop(process, waiting)
                    return ("timed_out", "task timed out")
                woken = asyncio.ensure_future(wakeup.wait())
                await asyncio.wait(
                    [waiting, woken],
                    timeout=min(remaining, 1.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                if waiting.done():
                    return None
                named = wakeup.take()  # empty after a quiet second: look anyway
                if named and str(task.id) not in named:
                    continue  # another task changed
                if await self.database.read(tasks.cancel_requested, task.id):
                    await self._stop(process, waiting)
                    return ("canceled", "task canceled")
        finally:
            changes.unsubscribe(wakeup)

    async def _stop(self, process: ExecProcess, waiting: asyncio.Future) -> None:
        for signum in ESCALATION:
            process.signal(signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), self.grace)
                return

    async def _pump(
        self, task_id: uuid.UUID, stream: str, chunks: AsyncIterator[bytes], head: bytearray
    ) -> None:
        async for chunk in chunks:
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            self.output.append(task_id, stream, chunk)
            changes.notify("output")

    async def _finish(
        self,
        task: ExecutionTaskRow,
        status: str,
        *,
        error: str = "",
        exit_code: int | None = None,
        heads: dict[str, bytearray] | None = None,
    ) -> None:
        sizes = {s: self.output.size(task.id, s) for s in ("stdout", "stderr")}
        heads = heads or {"stdout": bytearray(), "stderr": bytearray()}
        await self.database.call(
            tasks.finish,
            task_id=task.id,
            status=status,
            error=error,
            exit_code=exit_code,
            stdout=heads["stdout"].decode("utf-8", "replace"),
            stderr=heads["stderr"].decode("utf-8", "replace"),
            stdout_bytes=sizes["stdout"],
            stderr_bytes=sizes["stderr"],
            output_truncated=any(sizes[s] > len(heads[s]) for s in sizes),
        )
