"""A whole server in the test's own process: services, engines and the API over an
in-process transport (no sockets), for programs that drive mbox as a client would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from backend import engines
from backend.api.app import create_api
from backend.services import Services, build_services
from backend.settings import Settings


@contextlib.asynccontextmanager
async def served_in_process(
    settings: Settings, services: Services | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server on `settings` (or on `services` already built) with its engines
    running; on exit the engines stop and the services close."""
    services = services or build_services(settings)
    transport = httpx.ASGITransport(app=create_api(services=services))
    async with (
        services,
        engines.running(services),
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as client,
    ):
        yield client
