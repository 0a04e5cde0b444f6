"""The few primitives the async client needs; `_io` is their blocking twin. The sync
client is generated from the async one (scripts/generate_sync_client.py), which renames
`_aio` to `_io`: everything else is the same code."""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["ClientConnection", "connect_websocket", "monotonic", "receive", "sleep"]

sleep = asyncio.sleep
monotonic = time.monotonic


def connect_websocket(url: str, headers: dict[str, str], timeout: float):
    return connect(url, additional_headers=headers, open_timeout=timeout, max_size=None)


async def receive(websocket: ClientConnection, timeout: float | None) -> str | bytes:
    """The next message; TimeoutError when none comes within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        return await websocket.recv()
