"""Process-wide wiring: settings, the database, startup checks, and the server entry point."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator

from backend import engines
from backend.artifacts.content import ArtifactContent, artifact_content
from backend.db import Database
from backend.runtime import create_runtime
from backend.runtime.base import RuntimeAdapter
from backend.settings import Settings, SettingsError, get_settings


@functools.cache
def get_database() -> Database:
    """The process's database, migrated on first use (under the migration lock)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    database.migrate()
    return database


@functools.cache
def get_runtime() -> RuntimeAdapter:
    """The process's sandbox runtime (MBOX_RUNTIME)."""
    return create_runtime(get_settings())


@functools.cache
def get_artifact_content() -> ArtifactContent:
    """The process's artifact content service (blob stores, runtime, database)."""
    return artifact_content(get_settings(), get_database(), get_runtime())


@contextlib.asynccontextmanager
async def background_engines() -> AsyncIterator[None]:
    """The server's lifespan task: engines run while the server serves."""
    async with engines.running(get_database(), get_runtime(), get_settings()):
        yield


def check_startup() -> Settings:
    """Validate settings and migrate; exit with one clear line if either fails."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        sys.exit(f"mbox: {exc}")
    try:
        get_database()
    except Exception as exc:  # the operator needs the reason, not a traceback
        sys.exit(f"mbox: cannot prepare the database at {_redact(settings.database_url)}: {exc}")
    availability = get_runtime().availability()
    if not availability.available:
        print(f"mbox: {availability.message}", file=sys.stderr, flush=True)
    return settings


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def main() -> None:
    """`mbox-server`: check settings, migrate, then serve console + API on one port."""
    settings = check_startup()
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"mbox: serving on http://{shown}:{settings.port}", flush=True)
    args = reflex_command(settings.host, settings.port)
    os.execvp(args[0], args)


def reflex_command(host: str, port: int) -> list[str]:
    """Reflex 0.10 prod mode: one port for console, /v1, /healthz and every WebSocket."""
    return ["reflex", "run", "--env", "prod", "--backend-host", host, "--backend-port", str(port)]
