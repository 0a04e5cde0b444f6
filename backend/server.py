"""Process-wide wiring: settings, the database, startup checks, and the server entry point."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator

from backend import engines
from backend.services import Services, build_services
from backend.settings import Settings, SettingsError, get_settings

# Everything the server writes (database, logs, task output, recordings, artifacts, its
# sandboxes' bookkeeping) is its own: files 0600. Directories keep other's search bit
# (0711, never listable): sandbox uids must still walk to their workspace.
PRIVATE_UMASK = 0o066
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_FILES = ("", "-wal", "-shm", "-journal")


@functools.cache
def get_services() -> Services:
    """The process's services (database migrated on first use, under the migration lock),
    shared by the API, the engines and the console."""
    settings = get_settings()
    private_data_dir(settings)
    return build_services(settings)


def private_data_dir(settings: Settings) -> None:
    """Called before the server writes anything: the private umask for this process (and
    the processes it starts), and a data dir only the server's user can open. A data dir
    that already holds workspaces (`sandboxes/`, from before) keeps its mode: their
    sandboxes' uids need to walk through it. SQLite files an older server created are
    made private too (new ones are, by the umask)."""
    os.umask(PRIVATE_UMASK)
    data_dir = settings.data_dir
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=PRIVATE_DIR)
    if not (data_dir / "sandboxes").exists():
        data_dir.chmod(PRIVATE_DIR)
    if settings.database_url.startswith("sqlite:///"):
        database = settings.database_url.removeprefix("sqlite:///").split("?", 1)[0]
        for suffix in SQLITE_FILES:
            with contextlib.suppress(OSError):
                os.chmod(database + suffix, PRIVATE_FILE)


@contextlib.asynccontextmanager
async def background_engines() -> AsyncIterator[None]:
    """The server's lifespan task: engines run while the server serves; then the services
    close (terminals hang up, the relay and the runtime stop)."""
    services = get_services()
    try:
        async with engines.running(services):
            yield
    finally:
        await services.aclose()


def check_startup() -> Settings:
    """Validate settings and migrate; exit with one clear line if either fails."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        sys.exit(f"mbox: {exc}")
    try:
        services = get_services()
    except Exception as exc:  # the operator needs the reason, not a traceback
        sys.exit(f"mbox: cannot prepare the database at {_redact(settings.database_url)}: {exc}")
    availability = services.runtime.availability()
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
