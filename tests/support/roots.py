"""The roots a local sandbox runs on, for attacks that must hold on each: the host's
read-only /usr (image `host`) and an image (a recipe-built Debian with python3: the tools
the attacks use), built once per test session into a shared image cache."""

from __future__ import annotations

import asyncio

from backend.runtime.base import SandboxSpec
from backend.runtime.local import LocalRuntime

GREET = '#!/bin/sh\necho "hi from $(whoami) in $HOME"\n'
RECIPE = {
    "base": "debian:bookworm",
    "packages": ["hello", "python3"],
    "files": [
        {"path": "/etc/mbox-motd", "content": "built by mbox\n", "mode": "0644"},
        {"path": "/usr/local/bin/greet", "content": GREET, "mode": "0755"},
    ],
    "user": "user",
}  # the recipe tests (tests/images/test_builds.py) build this one too: one build a session
ROOTS = {"host": {}, "image": {"image": "debian:built", "build": RECIPE}}
BUILD_SECONDS = 300  # the first launch of the image builds it (mmdebstrap)


async def started(local: LocalRuntime, box: SandboxSpec) -> None:
    """Ensure, then wait out a build or pull (the first launch of an image)."""
    status = await local.ensure(box)
    deadline = asyncio.get_running_loop().time() + BUILD_SECONDS
    while status.phase == "starting" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        status = await local.status(box.sandbox_id)
    assert status.phase == "running", status
