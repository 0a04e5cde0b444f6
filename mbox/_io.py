"""Blocking twins of `_aio`'s primitives, for the sync client."""

from __future__ import annotations

import time

from websockets.sync.client import ClientConnection, connect

__all__ = ["ClientConnection", "connect_websocket", "monotonic", "receive", "sleep"]

sleep = time.sleep
monotonic = time.monotonic


def connect_websocket(url: str, headers: dict[str, str], timeout: float) -> ClientConnection:
    # Entered like a context manager: websockets 17.1+ warns about a bare connect().
    opening = connect(url, additional_headers=headers, open_timeout=timeout, max_size=None)
    return opening.__enter__()


def receive(websocket: ClientConnection, timeout: float | None) -> str | bytes:
    """The next message; TimeoutError when none comes within `timeout` seconds."""
    return websocket.recv(timeout=timeout)
