"""Blobs in the database (provider "postgres" in the contract's words; SQLite too): one
row per 1 MiB chunk, each written in its own short transaction so that a slow upload
never holds the database's write lock."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.storage.base import CHUNK_BYTES


class BlobChunkRow(SQLModel, table=True):
    __tablename__ = "artifact_blob_chunks"

    storage_key: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


__all__ = ["CHUNK_BYTES", "BlobChunkRow"]
