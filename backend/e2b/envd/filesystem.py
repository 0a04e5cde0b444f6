"""envd's `filesystem.Filesystem` (placeholder until the filesystem service lands)."""

from __future__ import annotations

from backend.e2b.envd.generated.filesystem.filesystem_connect import (
    Filesystem,
    FilesystemASGIApplication,
)
from backend.services import Services


class _Unimplemented(Filesystem):
    pass


def filesystem_app(services: Services) -> FilesystemASGIApplication:
    return FilesystemASGIApplication(_Unimplemented())
