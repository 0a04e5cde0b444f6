"""Session registries for the image cache tests: one open, one behind htpasswd auth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.registry import Registry, running_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def private_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("private-registry"), auth=True) as running:
        yield running
