"""Shared fixtures: a fresh, migrated database per test on SQLite and on a real Postgres.

The Postgres cluster is started once per run from the installed server binaries
(tests/support/postgres.py) and migrated once; each test starts from empty tables.
SQLite tests copy a migrated file.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.db import Database
from backend.models import metadata
from backend.runtime import create_runtime
from backend.runtime.base import RuntimeAdapter, RuntimeStatus, SandboxSpec
from backend.settings import Settings, load_settings
from tests.support.postgres import PostgresCluster

TEST_DB = "mbox_test"


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    """Each test starts with the usual umask and leaves it so: code under test that sets
    the server's private one (backend.server.get_services) must not change what later
    tests create for sandbox users to read."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    try:
        template = Database(cluster.url())
        with template.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"CREATE DATABASE {TEST_DB}"))
        template.dispose()
        migrated = Database(cluster.url(TEST_DB))
        migrated.migrate()
        migrated.dispose()
        yield cluster
    finally:
        cluster.stop()


def _postgres_url(cluster: PostgresCluster) -> str:
    """The shared test database, emptied: TRUNCATE is much faster than a database per test."""
    url = cluster.url(TEST_DB)
    engine = sa.create_engine(url)
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.engine.begin() as conn:  # tests start from empty tables, as on Postgres
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    raw = database.engine.raw_connection()  # autocommit: a checkpoint cannot run in a transaction
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    database.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "mbox.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    return _postgres_url(request.getfixturevalue("postgres"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)  # already migrated (template copy / shared database)
    yield database
    database.dispose()


TEST_REGISTRY_HOST = "127.0.0.1"


@pytest.fixture(scope="session")
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One image cache for the session's local runtimes: an image is pulled or built once
    (a recipe build takes ~30 s), as servers on one host share MBOX_IMAGE_DIR."""
    return tmp_path_factory.mktemp("images")


@pytest.fixture
def settings(tmp_path: Path, database_url: str, image_cache: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        local_sandbox_dir=sandbox_dir(tmp_path),
        image_dir=image_cache,
        # The names in-process clients give the server (Starlette's TestClient, httpx's
        # ASGI transport in tests/runtime): the Host check refuses unknown names.
        allowed_hosts="testserver,mbox",
        # The test registries listen on loopback, which the server refuses unless listed.
        insecure_registries=TEST_REGISTRY_HOST,
    )


def sandbox_dir(tmp_path: Path) -> Path:
    """Workspaces must be reachable by sandbox uids; pytest's tmp dirs are 0700."""
    root = tmp_path / "sandboxes"
    root.mkdir(exist_ok=True)
    for path in (tmp_path, *tmp_path.parents):
        if path == Path("/tmp") or path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o111)
    return root


# A real cluster's kubeconfig (and context, default its current one): opt-in, see README.
REAL_KUBECONFIG = "MBOX_TEST_KUBECONFIG"
REAL_CONTEXT = "MBOX_TEST_KUBE_CONTEXT"
# The suites' templates say image "host" (the local runtime's host /usr; ignored by the
# test kubelet); a real cluster's nodes pull this instead (python3, sh and GNU find).
REAL_IMAGE = "MBOX_TEST_KUBE_IMAGE"
ADAPTERS = (
    "local",
    "kubernetes",
    pytest.param("real-kubernetes", marks=pytest.mark.kubernetes),
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_runtimes` run on the local runtime and on the Kubernetes runtime
    (against the test cluster; also against a real one, marked `kubernetes`, when
    MBOX_TEST_KUBECONFIG is set), except those marked `local_runtime_only` (they look at
    the host side of a local sandbox)."""
    definition = metafunc.definition
    if (
        definition.get_closest_marker("both_runtimes")
        and not definition.get_closest_marker("local_runtime_only")
        and "runtime" in metafunc.fixturenames
    ):
        metafunc.parametrize("runtime", ADAPTERS, indirect=True)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what it does not want
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Kubernetes runtime's runs use SQLite only: the database is not what they test.
    Without a real cluster, tests marked `kubernetes` are left out, unless `-m` asked for
    them: then the run stops and says what to set (it must not pass having run nothing)."""
    if not os.environ.get(REAL_KUBECONFIG) and any(
        _asked_for_real_cluster(config, item) for item in items
    ):
        raise pytest.UsageError(
            f"tests marked `kubernetes` need a real cluster: set {REAL_KUBECONFIG} to its "
            f"kubeconfig (and {REAL_CONTEXT} to a context, default its current one); "
            "see README.md, Test it"
        )
    kept = [item for item in items if not _left_out(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def _left_out(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    on_postgres = params.get("database_url") == "postgres"
    if params.get("runtime") in ("kubernetes", "real-kubernetes") and on_postgres:
        return True
    return bool(item.get_closest_marker("kubernetes")) and not os.environ.get(REAL_KUBECONFIG)


def _asked_for_real_cluster(config: pytest.Config, item: pytest.Item) -> bool:
    """Whether `-m` keeps an item marked `kubernetes` only because of that mark."""
    from _pytest.mark.expression import Expression

    names = {mark.name for mark in item.iter_markers()}
    if not config.option.markexpr or "kubernetes" not in names:
        return False
    others = names - {"kubernetes"}
    return not Expression.compile(config.option.markexpr).evaluate(lambda name, **_: name in others)


@pytest.fixture
async def runtime(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[RuntimeAdapter]:
    """A live runtime on the test's event loop; every sandbox it started is stopped after.
    The local runtime unless parametrized (see `both_runtimes`)."""
    adapter = getattr(request, "param", "local")
    if adapter == "kubernetes":
        cluster = request.getfixturevalue("kube_cluster")
        kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
        settings = settings.model_copy(
            update={"runtime": "kubernetes", "kubeconfig": kubeconfig, "kube_context": "mbox-test"}
        )
    elif adapter == "real-kubernetes":
        settings = settings.model_copy(update=real_cluster_settings())
    runtime = create_runtime(settings)
    if adapter == "real-kubernetes":
        pull_a_real_image(runtime, os.environ.get(REAL_IMAGE) or "python:3.12-slim")
    yield runtime
    await runtime.close()


def real_cluster_settings() -> dict[str, Any]:
    kubeconfig = Path(os.environ[REAL_KUBECONFIG]).expanduser()
    if not kubeconfig.is_file():
        pytest.fail(f"{REAL_KUBECONFIG}={kubeconfig}: no such file", pytrace=False)
    context = os.environ.get(REAL_CONTEXT) or None
    return {"runtime": "kubernetes", "kubeconfig": kubeconfig, "kube_context": context}


def pull_a_real_image(runtime: RuntimeAdapter, image: str) -> None:
    """Sandboxes of the suites' "host" image run `image` on the real cluster."""
    ensure = runtime.ensure

    async def ensure_pulling(spec: SandboxSpec) -> RuntimeStatus:
        return await ensure(
            dataclasses.replace(spec, image=image) if spec.image == "host" else spec
        )

    runtime.ensure = ensure_pulling  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The test Kubernetes cluster (API server, agent-sandbox controller simulator and a
    kubelet over the local runtime), started once per run on first use."""
    from tests.support.kube.cluster import KubeCluster
    from tests.support.kube.controller import AgentSandboxController
    from tests.support.kube.kubelet import LocalKubelet

    root = sandbox_dir(tmp_path_factory.mktemp("kube"))
    with KubeCluster(
        kubelet_factory=lambda store: LocalKubelet(root),
        controller_factory=lambda store: AgentSandboxController(),
    ) as cluster:
        yield cluster


# -- S3 (moto over real HTTP) ---------------------------------------------------------------

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from tests.support.s3 import S3Server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto S3 server per run, started on first use; tests isolate by key prefix."""
    from tests.support.s3 import start_s3_server  # moto is imported only if S3 is tested

    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, image_cache: Path) -> Iterator[Any]:
    """One live server per run for the client suites (SDK, CLI, MCP, E2B): the API and its
    engines in a process of their own, on the local runtime (tests/support/live.py), with
    the session's image cache (a recipe is built once a run). Tests isolate by project."""
    from tests.support.live import live_server  # it needs this module's sandbox_dir

    with live_server(tmp_path_factory.mktemp("live"), image_dir=str(image_cache)) as server:
        yield server
