"""The escape suite: attacks on the sandbox boundary and the web surface, each against
the real server, real bubblewrap and real sockets. Each test's docstring names what it
attacks and what stops it.

Fixtures come from the runtime and API suites, so an attack runs exactly where the
feature's own tests run."""

from tests.api.conftest import client, secured_client  # noqa: F401
from tests.runtime.conftest import _bubblewrap_installed, local, served, world  # noqa: F401
