"""The process table against a hostile sandbox: what the sandbox answers the server is
bounded, and its processes are its own."""

from __future__ import annotations

import asyncio
import time

from backend.sessions.processes import ProcessTable
from tests.runtime.conftest import run, spec


async def test_a_flooding_sh_cannot_fill_the_servers_memory(local, database) -> None:
    """The home probe runs `sh` by PATH: a sandbox whose PATH finds its own `sh` (a
    template's env) answers forever. The probe stops at its bound and kills it."""
    box = spec(env={"PATH": "/workspace/bin:/usr/bin:/bin"})
    await local.ensure(box)
    code, _, err = await run(
        local, box.sandbox_id, "mkdir -p bin && printf '#!/bin/dash\\nexec yes /\\n' > bin/sh"
        " && chmod +x bin/sh", env={"PATH": "/usr/bin:/bin"}
    )  # fmt: skip
    assert code == 0, err
    table = ProcessTable(database, local)
    started = time.monotonic()
    home = await asyncio.wait_for(table.home(box.sandbox_id), 10)
    assert home == "/"  # not the flood
    assert time.monotonic() - started < 10
