"""The server's engines include the artifact collector: unreferenced bytes go away on
their own, without anyone calling it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa

from backend.artifacts.models import ArtifactBlobRow
from backend.engines import running
from backend.services import build_services
from backend.storage import BlobStores


async def _chunks():
    yield b"orphaned bytes"


async def test_the_engines_collect_unreferenced_blobs(settings, database):
    settings = settings.model_copy(
        update={"artifact_content_backend": "filesystem", "artifact_collect_interval": 0.05}
    )
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"
    await BlobStores(settings, database).writer.write(key, _chunks())
    with database.session() as db:  # live once, referenced by nothing any more
        db.add(
            ArtifactBlobRow(
                project_id=uuid.uuid4(),
                artifact_id=uuid.uuid4(),
                storage_provider="filesystem",
                storage_key=key,
                state="live",
            )
        )
        db.commit()
    blob = Path(settings.artifact_content_dir) / key
    assert blob.exists()
    async with build_services(settings, database) as services, running(services):
        for _ in range(200):  # up to 10 s on a loaded machine
            if not blob.exists() and _ledger(database) == 0:
                break
            await asyncio.sleep(0.05)
    assert not blob.exists()
    assert _ledger(database) == 0


def _ledger(database) -> int:
    with database.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ArtifactBlobRow)).scalar()
