"""Database engine, sessions, column types and migrations.

SQLite (WAL, foreign keys on) is the single-machine default; Postgres via psycopg at scale.
Both run the same Alembic migrations, applied at startup under a lock so that two servers
starting together cannot race (a Postgres advisory lock; a file lock next to SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, create_engine

from backend.errors import Conflict, NotFound

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any 64-bit number unique to mbox: the key of the advisory lock that serialises migrations.
MIGRATION_LOCK_KEY = 0x6D626F78_6D696772


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC timestamps on both databases (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use backend.db.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: JSONB on Postgres (indexable), JSON text on SQLite.
JSONValue = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def id_field() -> Any:
    return Field(default_factory=new_id, primary_key=True)


def timestamp_field(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def json_field(
    default_factory: Any = dict, *, column: str | None = None, nullable: bool = False
) -> Any:
    """A JSON column; `column` renames it (a table attribute cannot be called `metadata`)."""
    kwargs = {"name": column} if column else {}
    if nullable:
        return Field(default=None, sa_type=JSONValue, nullable=True, sa_column_kwargs=kwargs)
    return Field(
        default_factory=default_factory, sa_type=JSONValue, nullable=False, sa_column_kwargs=kwargs
    )


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, *, reader: bool = False) -> Engine:
    """A writer engine (every transaction takes the write lock at once) or, with
    `reader`, one for reads only: deferred transactions see a WAL snapshot and never
    wait behind a writer (SQLite's busy handler sleeps in steps of milliseconds), and
    `query_only` makes an accidental write fail loudly instead of racing for the lock."""
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if reader:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    # pysqlite opens transactions lazily and only for DML; make every transaction begin
    # immediately so that read-then-write service calls cannot deadlock on lock upgrades.
    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")

    return engine


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to call from many processes at once."""
    with _migration_lock(engine), engine.connect() as connection:
        command.upgrade(_alembic_config(connection), "head")
        connection.commit()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        if not inspector.has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def check_database(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query (used by /healthz)."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


SCOPE_KEY = "mbox.projects"  # Session.info: the project ids a scoped session may touch


class Database:
    """The engine plus a session factory; one per process (or per test)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        # Reads on the hot paths (waits, the task runner's polls) skip SQLite's write
        # lock; on Postgres every transaction already reads a snapshot without one.
        self._read_engine = (
            _sqlite_engine(url, reader=True) if url.startswith("sqlite") else self.engine
        )

    def session(self, projects: frozenset[uuid.UUID] | None = None) -> Session:
        """A session; with `projects`, one that reads and writes only rows of those
        projects (a project-scoped principal's: backend/auth/access.py)."""
        session = Session(self.engine, expire_on_commit=False)
        if projects is not None:
            session.info[SCOPE_KEY] = frozenset(projects)
        return session

    def migrate(self) -> None:
        migrate(self.engine)

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a service function with a session of its own, in a worker thread (for
        engines and async routes: the event loop never waits on the database)."""

        def run() -> T:
            with self.session() as db:
                return fn(db, *args, **kwargs)

        return await asyncio.to_thread(run)

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`call` for a service function that only reads: it never waits for a writer
        (and may not write: on SQLite the attempt fails)."""

        def run() -> T:
            with Session(self._read_engine, expire_on_commit=False) as db:
                return fn(db, *args, **kwargs)

        return await asyncio.to_thread(run)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()


RowT = TypeVar("RowT")
T = TypeVar("T")


def get_row(db: Session, model: type[RowT], row_id: Any, message: str | None = None) -> RowT:
    """The row with this primary key, or NotFound (`resource not found` unless `message`)."""
    row = db.get(model, row_id)
    if row is None:
        raise NotFound(message)
    return row


def commit(db: Session, *, restricted: str | None = None) -> None:
    """Commit the unit of work; a constraint the service did not foresee becomes a 409/404.
    A foreign key failure means a row referred to is gone (404), unless the unit deletes a
    row that others may still hold (ON DELETE RESTRICT): then it is a 409 that says
    `restricted`, and nothing is deleted."""
    try:
        db.commit()
    except sa.exc.IntegrityError as exc:
        db.rollback()
        text = str(exc.orig).lower()
        if "foreign key" in text:
            raise (Conflict(restricted) if restricted else NotFound()) from None
        raise Conflict() from None
