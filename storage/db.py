"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import functools
import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("duban.storage")

# pg advisory lock key for schema upgrades ("duban-migrate" hashed once, fixed forever); distinct from the
# scheduler leader's key in scheduler/leader.py.
MIGRATION_LOCK_KEY = 0x6475_6261_6E5F_6D67

# The first key of the two-key advisory locks lock_names() takes (two-key locks never meet the one-key ones above).
NAMED_LOCKS = 0x6475  # "du"

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the connection settings duban relies on.

    SQLite: WAL so readers never block the writer, a busy timeout so a second writer waits, foreign keys
    on, and every transaction opened with BEGIN IMMEDIATE. pysqlite otherwise starts transactions
    DEFERRED, and two deferred readers that both try to upgrade to a write fail at once with
    "database is locked" no matter the busy timeout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (it stays so; later connections find it done).

    SQLite answers a journal-mode change with BUSY at once, without waiting in the busy handler, while
    another connection holds the file: replicas starting together on a new database (each upgrading the
    schema) failed this way about one time in four. So wait here, within the same busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def lock_names(session: Session, *names: str) -> None:
    """Hold locks on these names until the session's transaction ends, so that callers which count, decide and
    record under one name take turns instead of all counting before any records.

    PostgreSQL: transaction-level advisory locks, taken in sorted order so that two callers never wait on each
    other. SQLite needs none: every transaction is BEGIN IMMEDIATE (make_engine), one writer at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": NAMED_LOCKS, "key": key})


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest migration (run on every start; a no-op when current).

    Several replicas start at once and each runs this. On PostgreSQL a transaction-level advisory lock
    serializes them: the first migrates, the others wait, then find the schema current. The lock is taken
    in the same transaction as the migration, so it is released exactly when that commits or rolls back.
    SQLite needs nothing more: it is single-host, and make_engine opens every transaction with
    BEGIN IMMEDIATE, which already admits one writer at a time.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            _take_migration_lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _take_migration_lock(connection: Connection) -> None:
    key = {"key": MIGRATION_LOCK_KEY}
    if not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
        log.info("another process is upgrading the schema; waiting for it")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


@functools.cache
def migrations_head() -> str | None:
    """The newest migration this code ships (the scripts do not change while the process runs: read once)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == migrations_head()
