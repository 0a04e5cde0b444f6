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
    "run": [
        'echo "made by $(id -un) in a run step" > /etc/mbox-run',
        "install -d -o user -g user /opt/app && ln /etc/mbox-run /opt/app/hardlink",
    ],
    "verify": "hello && test -w /opt/app && python3 --version",
    "user": "user",
}  # in the shape the API stores; the recipe tests (tests/images/test_builds.py) build this
# one too, and the jail tests (tests/images/test_build_jail.py) start from its tree: one
# build a session
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
