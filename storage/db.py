"""The one place that makes engines and sessions, and applies migrations."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from storage.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL's driver is an optional part of the install (`tiendo[postgresql]`): SQLite needs none.
POSTGRESQL_DRIVER = "psycopg"


class MissingDriver(StorageError):
    """DATABASE_URL names PostgreSQL and its driver is not installed."""


def normalise_url(url: str) -> str:
    """Pick the drivers: the standard sqlite3 module, psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(url, echo=echo, pool_pre_ping=True)
        except ModuleNotFoundError as error:
            if error.name != POSTGRESQL_DRIVER:
                raise
            raise MissingDriver("storage.db.missing_driver") from None

    database = parsed.database or ""
    if database and database != ":memory:":
        # The file holds reports, names and accounts: readable by the bot's user only (SQLite gives
        # its -wal and -shm files the same permissions).
        Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not Path(database).exists():
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if not database or database == ":memory:":
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, open transactions (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE takes the write lock up front: two threads upgrading read locks to write
        # locks would otherwise fail with "database is locked" instead of waiting. Long read-only
        # work (planning a campaign) asks for a plain BEGIN so that it does not hold writers back.
        readonly = connection.get_execution_options().get("tiendo_readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


# Any fixed number: the key of the PostgreSQL advisory lock held while migrating.
MIGRATION_LOCK = 0x7469656E646F  # "tiendo"


def migration_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def revisions_between(before: str | None, after: str | None) -> list[str]:
    """The migrations that lead from `before` (None: an empty database) to `after`, oldest first."""
    if after is None or before == after:
        return []
    script = ScriptDirectory.from_config(migration_config())
    steps = script.iterate_revisions(after, before or "base")
    return [step.revision for step in reversed(list(steps))]


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest migration (run at every start; a no-op when current).

    Several workers may start at once: on PostgreSQL they queue on an advisory lock held for the
    migration's transaction, so one migrates and the others then find the schema current. (SQLite's
    BEGIN IMMEDIATE serialises them already.) Returns the revision found and the revision left,
    both read under that lock (None: an empty database).
    """
    config = migration_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = _revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return before, _revision(connection)


class Database:
    """An engine plus the session factory handlers use; one per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)

    def migrate(self) -> tuple[str | None, str | None]:
        return migrate(self.engine)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        `readonly`: for long reads; on SQLite they then share the database with writers (WAL).
        """
        bind = self.engine.execution_options(tiendo_readonly=True) if readonly else self.engine
        with Session(bind, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
