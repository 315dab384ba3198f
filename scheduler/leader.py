"""Leader election: of all processes with DUBAN_SCHEDULER=on, exactly one schedules and delivers at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection outside the pool (a pooled
connection could be handed back and its lock would wander with it). The lock dies with the session, so
when the leader's process dies PostgreSQL frees it and a standby's next try wins. Server-side TCP
keepalives are shortened on that session so a leader whose host vanished (no FIN) is noticed in ~30 s.

SQLite: an exclusive `flock` on a lock file beside the database. The kernel drops it when the holding
process exits for any reason, so it works across processes with no lease to expire.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("duban.leader")

# pg advisory lock keys are bigints; this one is "duban-scheduler" hashed once, fixed forever.
ADVISORY_LOCK_KEY = 0x6475_6261_6E5F_7363


class Leadership(Protocol):
    """A lock at most one process holds; `try_acquire` never blocks."""

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, url: str, key: int = ADVISORY_LOCK_KEY) -> None:
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._key = key
        self._connection: Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        if self._held:
            return self.still_held()
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
                for setting, value in (
                    ("tcp_keepalives_idle", 10),
                    ("tcp_keepalives_interval", 5),
                    ("tcp_keepalives_count", 3),
                ):
                    self._connection.execute(text(f"SET {setting} = {value}"))
            self._held = bool(
                self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar()
            )
        except SQLAlchemyError as error:
            log.warning("leader lock unavailable", extra={"error": type(error).__name__})
            self._close()
        return self._held

    def still_held(self) -> bool:
        """The lock lives as long as its session: a working connection means we still hold it."""
        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            log.error("leader lock connection lost; stepping down")
            self._close()
            return False
        return True

    def release(self) -> None:
        if self._held and self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):  # the connection is going away; the lock goes with it
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._close()
        self._engine.dispose()

    def _close(self) -> None:
        self._held = False
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):  # already broken
                self._connection.close()
            self._connection = None


class FileLeadership:
    """An exclusive flock on `path`; the OS releases it when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - held open for as long as we lead
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leadership_for(database_url: str, *, name: str = "scheduler", key: int = ADVISORY_LOCK_KEY) -> Leadership:
    """The election that fits the database: advisory lock on PostgreSQL, a lock file beside a SQLite file.

    `name` and `key` tell one election from another (the scheduler's, the WeCom robot connection's).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeadership(database_url, key)
    database = url.database
    if not database or database == ":memory:":
        # An in-memory database lives in one process: there is nobody to elect against.
        return FileLeadership(Path(tempfile.gettempdir()) / f"duban-{name}-{os.getpid()}.lock")
    return FileLeadership(Path(database).with_name(f"{Path(database).name}.{name}.lock"))
