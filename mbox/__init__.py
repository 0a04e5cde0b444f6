"""mbox: a Python client for mbox sandboxes.

    from mbox import Mbox

    with Mbox() as mbox:                      # MBOX_API_URL, MBOX_TOKEN, or a context
        with mbox.sandboxes.create("python") as sb:   # waits until running; deleted after
            result = sb.tasks.run(["python3", "-c", "print(6 * 7)"])
            print(result.stdout)

`AsyncMbox` has the same methods, awaited. Results are the dataclasses of `mbox.models`;
refusals are the exceptions of `mbox.errors`. Names are imported on first use, so
`import mbox` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Mbox": "mbox._sync.client",
    "AsyncMbox": "mbox._async.client",
    "Sandbox": "mbox._sync.sandbox",
    "AsyncSandbox": "mbox._async.sandbox",
    "Terminal": "mbox._sync.terminal",
    "AsyncTerminal": "mbox._async.terminal",
    "Progress": "mbox._async.sandbox",
    "Execution": "mbox._sync.code",
    "ClientConfig": "mbox.config",
    "Context": "mbox.config",
    "ContextStore": "mbox.config",
    "Compatibility": "mbox.compat",
    "check_compatibility": "mbox.compat",
    "MboxError": "mbox.errors",
    "ApiError": "mbox.errors",
    "PolicyDeniedError": "mbox.errors",
    "NotFoundError": "mbox.errors",
    "TaskFailedError": "mbox.errors",
    "WaitTimeoutError": "mbox.errors",
}
__all__ = [  # noqa: RUF022 - grouped as in _EXPORTS
    "Mbox",
    "AsyncMbox",
    "Sandbox",
    "AsyncSandbox",
    "Terminal",
    "AsyncTerminal",
    "Progress",
    "Execution",
    "ClientConfig",
    "Context",
    "ContextStore",
    "Compatibility",
    "check_compatibility",
    "MboxError",
    "ApiError",
    "PolicyDeniedError",
    "NotFoundError",
    "TaskFailedError",
    "WaitTimeoutError",
    "__version__",
    "errors",
    "models",
]

if TYPE_CHECKING:
    from mbox import errors, models
    from mbox._async.client import AsyncMbox
    from mbox._async.sandbox import AsyncSandbox, Progress
    from mbox._async.terminal import AsyncTerminal
    from mbox._sync.client import Mbox
    from mbox._sync.code import Execution
    from mbox._sync.sandbox import Sandbox
    from mbox._sync.terminal import Terminal
    from mbox.compat import Compatibility, check_compatibility
    from mbox.config import ClientConfig, Context, ContextStore
    from mbox.errors import (
        ApiError,
        MboxError,
        NotFoundError,
        PolicyDeniedError,
        TaskFailedError,
        WaitTimeoutError,
    )


def __getattr__(name: str) -> Any:
    if name in ("errors", "models"):
        return importlib.import_module(f"mbox.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
