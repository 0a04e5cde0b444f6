"""The escape suite: attacks on the sandbox boundary and the web surface, each against
the real server, real bubblewrap and real sockets. Each test's docstring names what it
attacks and what stops it.

Fixtures come from the runtime and API suites, so an attack runs exactly where the
feature's own tests run."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime.images import ImageStore
from backend.runtime.local import LocalRuntime
from tests.api.conftest import client, secured_client  # noqa: F401
from tests.conftest import sandbox_dir
from tests.runtime.conftest import LIMITS, _bubblewrap_installed, served, world  # noqa: F401
from tests.support.roots import ROOTS


@pytest.fixture(scope="session")
def shared_images(image_cache: Path) -> Path:
    """The session's image cache: the image root's recipe is built once."""
    return image_cache


@pytest.fixture(params=list(ROOTS))
def root(request: pytest.FixtureRequest) -> dict:
    """A sandbox spec's fields for each root an attack runs on (see tests/support/roots)."""
    return ROOTS[request.param]


@pytest.fixture
async def local(tmp_path: Path, shared_images: Path) -> AsyncIterator[LocalRuntime]:
    """The runtime suite's local runtime, with the suite's shared image cache."""
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS, image_store=ImageStore(shared_images))
    yield runtime
    await runtime.close()
