"""The server's audit signing key and the retention checkpoints' HMAC-SHA256 signatures.

A checkpoint stands for the prefix of the chain retention removed; only a holder of the
key can write one that verifies. The key is MBOX_AUDIT_SIGNING_KEY, else a random key
made once in the data dir (0600). Replicas must share it: set the variable on Kubernetes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from datetime import datetime
from pathlib import Path

from backend.audit.chain import timestamp
from backend.settings import Settings

KEY_FILE = "audit-signing.key"


def signing_key(settings: Settings) -> bytes:
    if settings.audit_signing_key:
        return hashlib.sha256(settings.audit_signing_key.encode()).digest()
    return _file_key(settings.data_dir / KEY_FILE)


@functools.cache
def _file_key(path: Path) -> bytes:
    if not path.exists():
        _create_key(path)
    return bytes.fromhex(path.read_text().strip())


def _create_key(path: Path) -> None:
    """Write a new key atomically: whichever process links first wins, the others read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_bytes(32).hex())
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()


def checkpoint_signature(
    key: bytes, *, upto_seq: int, last_hash: str, removed_count: int, created_at: datetime
) -> str:
    message = f"mbox audit checkpoint v1\n{upto_seq}\n{last_hash}\n{removed_count}\n"
    message += timestamp(created_at)
    return hmac.new(key, message.encode(), "sha256").hexdigest()
