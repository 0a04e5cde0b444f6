"""The full output of tasks, kept in files next to the database: append while running,
read from any byte offset (downloads, and event streams that resume)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from backend.settings import Settings

STREAMS = ("stdout", "stderr")


class OutputStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, task_id: uuid.UUID, stream: str) -> Path:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        return self.root / str(task_id) / stream

    def append(self, task_id: uuid.UUID, stream: str, data: bytes) -> int:
        """Append what fits under the cap; return how many bytes were kept."""
        path = self.path(task_id, stream)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("ab") as file:
            room = self.max_bytes - file.tell()
            kept = data[: max(0, room)]
            file.write(kept)
        return len(kept)

    def size(self, task_id: uuid.UUID, stream: str) -> int:
        try:
            return os.stat(self.path(task_id, stream)).st_size
        except FileNotFoundError:
            return 0

    def read(self, task_id: uuid.UUID, stream: str, offset: int, limit: int) -> bytes:
        try:
            with self.path(task_id, stream).open("rb") as file:
                file.seek(offset)
                return file.read(limit)
        except FileNotFoundError:
            return b""

    def remove(self, task_id: uuid.UUID) -> None:
        shutil.rmtree(self.root / str(task_id), ignore_errors=True)


def task_output_store(settings: Settings) -> OutputStore:
    return OutputStore(settings.data_dir / "task-output", settings.task_output_max_bytes)
