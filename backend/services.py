"""The server's services, built once: what the API, the engines and the console share.

`build_services` is the one place that constructs them. The server builds one set per
process (`backend.server.get_services`); tests build their own from their settings,
database and runtime. Routes receive the pieces through the `Annotated` aliases in
`backend.api.deps` (`RuntimeDep`, `ArtifactsDep`, ...), console states through
`state.base.services()`, and the engines through `engines.running(services)`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from backend.artifacts.content import ArtifactContent, artifact_content
from backend.db import Database
from backend.inventory.service import RuntimeInventory
from backend.runtime import create_runtime
from backend.runtime.base import RuntimeAdapter
from backend.sandboxes.files import WorkspaceFiles
from backend.sandboxes.filesystem import SandboxFilesystem
from backend.sandboxes.lifetime import ActivityMeter
from backend.sandboxes.previews import PreviewGate
from backend.sandboxes.runtime_access import RuntimeAccess
from backend.sessions import service as sessions
from backend.sessions.kernels import KernelHub
from backend.sessions.processes import ProcessTable
from backend.sessions.terminals import Terminal, TerminalHub
from backend.settings import Settings
from backend.tasks.output import OutputStore, task_output_store


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    runtime: RuntimeAdapter
    artifacts: ArtifactContent  # artifact capture, upload, download and retained blobs
    files: WorkspaceFiles  # a sandbox's workspace files
    runtime_access: RuntimeAccess  # where a sandbox runs, its log, events and ports
    activity: ActivityMeter  # idle-timeout activity from hot paths (terminal, preview)
    task_output: OutputStore  # task stdout/stderr files
    terminals: TerminalHub  # live terminals and their recordings
    preview_gate: PreviewGate  # preview link and sandbox caches
    inventory: RuntimeInventory  # what the runtime made, the orphan audit and cleanup
    filesystem: SandboxFilesystem  # a sandbox's whole filesystem, as its user (E2B's envd)
    processes: ProcessTable  # live processes in sandboxes (E2B's envd)
    kernels: KernelHub  # code run in a Jupyter kernel inside sandboxes (notebooks, E2B)

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """At process (or test) end: hang up terminals, close the preview gate and the
        runtime."""
        await self.terminals.close()
        await self.processes.close()
        await self.kernels.close()
        self.preview_gate.close()
        await self.runtime.close()


def build_services(
    settings: Settings, database: Database | None = None, runtime: RuntimeAdapter | None = None
) -> Services:
    """Every service, from settings (and the database and runtime when the caller has them:
    otherwise the database is opened and migrated, and the runtime made from settings)."""
    if database is None:
        database = Database(settings.database_url)
        database.migrate()
    runtime = runtime or create_runtime(settings)
    processes = ProcessTable(database, runtime)
    return Services(
        settings=settings,
        database=database,
        runtime=runtime,
        artifacts=artifact_content(settings, database, runtime),
        files=WorkspaceFiles(database, runtime),
        runtime_access=RuntimeAccess(database, runtime, settings),
        activity=ActivityMeter(database),
        task_output=task_output_store(settings),
        terminals=_terminal_hub(settings, database, runtime),
        preview_gate=PreviewGate(database),
        inventory=RuntimeInventory(database, runtime),
        filesystem=SandboxFilesystem(database, runtime),
        processes=processes,
        kernels=KernelHub(database, runtime, processes),
    )


def _terminal_hub(settings: Settings, database: Database, runtime: RuntimeAdapter) -> TerminalHub:
    """The server's terminals; recordings are finished in the database when they end."""

    def ended(terminal: Terminal) -> None:
        if terminal.recorder is not None:
            recorder = terminal.recorder
            asyncio.get_running_loop().create_task(
                database.call(
                    sessions.finish_recording,
                    terminal_id=terminal.id,
                    size_bytes=recorder.size,
                    truncated=recorder.truncated,
                )
            )

    recordings = None
    if settings.terminal_recording:

        def recordings(sandbox_id: uuid.UUID, terminal_id: uuid.UUID):
            return sessions.recording_path(settings, sandbox_id, terminal_id)

    return TerminalHub(
        runtime,  # type: ignore[arg-type]  # checked per request: open_pty
        scrollback_bytes=settings.terminal_scrollback_bytes,
        grace_seconds=settings.terminal_grace_seconds,
        recordings=recordings,
        recording_max_bytes=settings.terminal_recording_max_bytes,
        on_end=ended,
    )
