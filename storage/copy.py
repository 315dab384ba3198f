"""`duban db copy`: move every row of one duban database into another (SQLite → PostgreSQL as a bureau grows).

The target is migrated first, then each table of the ORM metadata is streamed over in foreign-key order and
in batches (memory stays flat however many rows), all in one target transaction so a failure leaves the
target as empty as it was. The source is read inside one snapshot, so the copy is consistent even if the
service is still writing; the closing row-count check then compares with the source as it is *now*, and a
difference means rows arrived during the copy (stop the service, copy again with --force).

Values go through the model's column types on both sides (UTCDateTime, JSON, enums), so an aware datetime
read from SQLite's naive text comes out as the same instant in PostgreSQL's timestamptz.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, schema_is_current, upgrade_schema
from storage.models import Base

log = logging.getLogger("duban.copy")

DEFAULT_BATCH_SIZE = 2000


class CopyError(Exception):
    """A copy that cannot start or cannot finish; the message is for the operator (Chinese)."""


class CopyProgress(Protocol):
    """What the copy reports while it runs (the CLI draws a progress bar from it)."""

    def start(self, totals: Mapping[str, int]) -> None: ...

    def advance(self, table: str, rows: int) -> None: ...


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


def normalize_url(url: str) -> URL:
    """`postgresql://` means psycopg2 to SQLAlchemy; duban ships psycopg 3, so use it for a bare URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


def shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: CopyProgress | None = None,
    tables: Sequence[Table] | None = None,
) -> list[TableCount]:
    """Copy every table from source to a migrated target; returns the per-table row counts afterwards.

    A target that already holds rows is refused unless `force`, which empties it first (in the same
    transaction as the copy, so a failed copy leaves the old rows in place).
    """
    source_parsed, target_parsed = normalize_url(source_url), normalize_url(target_url)
    if _same_database(source_parsed, target_parsed):
        raise CopyError("源库和目标库是同一个数据库。")
    tables = list(tables if tables is not None else Base.metadata.sorted_tables)
    source = _source_engine(source_parsed)
    target = make_engine(target_parsed.render_as_string(hide_password=False))
    try:
        _check_source(source, source_parsed)
        try:
            upgrade_schema(target)
        except OperationalError as error:
            raise CopyError(f"无法连接目标数据库 {shown(target_parsed)}：{_reason(error)}") from error
        with source.connect() as reader, reader.begin(), target.begin() as writer:
            occupied = [table.name for table in tables if _count(writer, table)]
            if occupied and not force:
                raise CopyError(
                    f"目标库已有数据（{'、'.join(occupied)}），未做任何修改。"
                    "确认要用源库覆盖它时，加 --force 重新执行。"
                )
            if occupied:
                log.warning("emptying the target before the copy", extra={"tables": len(occupied)})
                _empty(writer, tables)
            if progress is not None:
                progress.start({table.name: _count(reader, table) for table in tables})
            for table in tables:
                _copy_table(reader, writer, table, batch_size, progress)
            for table in tables:
                _restore_self_references(reader, writer, table, batch_size)
            _reset_sequences(writer, tables)
        return count_rows(source, target, tables)
    finally:
        source.dispose()
        target.dispose()


def count_rows(source: Engine, target: Engine, tables: Sequence[Table]) -> list[TableCount]:
    """Each table's row count on both sides, read now (outside the copy's snapshot)."""
    with source.connect() as reader, target.connect() as writer:
        return [TableCount(table.name, _count(reader, table), _count(writer, table)) for table in tables]


def _same_database(source: URL, target: URL) -> bool:
    if source.get_backend_name() == "sqlite" == target.get_backend_name():
        return bool(
            source.database and target.database and Path(source.database).resolve() == Path(target.database).resolve()
        )
    return (source.get_backend_name(), source.host, source.port, source.database) == (
        target.get_backend_name(),
        target.host,
        target.port,
        target.database,
    )


def _source_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        # One snapshot for the whole read; read-only, so the source can never be changed by mistake.
        return create_engine(
            url, isolation_level="REPEATABLE READ", pool_pre_ping=True, execution_options={"postgresql_readonly": True}
        )
    if not url.database or url.database == ":memory:" or not Path(url.database).is_file():
        raise CopyError(f"源数据库文件不存在：{url.database}")
    engine = create_engine(url)

    # A plain deferred BEGIN (make_engine's BEGIN IMMEDIATE would block the running service's writes for
    # the whole copy): under WAL it pins a read snapshot without taking the write lock.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _check_source(source: Engine, url: URL) -> None:
    try:
        current = schema_is_current(source)
    except OperationalError as error:
        raise CopyError(f"无法连接源数据库 {shown(url)}：{_reason(error)}") from error
    if not current:
        raise CopyError(
            f"源数据库不是当前版本的督办数据库，或尚未升级。请先对源库执行："
            f"DUBAN_DATABASE_URL='{shown(url)}' duban db upgrade"
        )


def _reason(error: OperationalError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _self_references(table: Table) -> list[Column[Any]]:
    """Columns pointing into their own table (units.parent_id): a child row may precede its parent."""
    return [key.parent for key in table.foreign_keys if key.column.table is table]


BLOB_BATCH_SIZE = 8  # rows of stored_file_chunks per batch: 8 × 256 KB, not 2,000 × 256 KB in memory


def _copy_table(
    reader: Connection, writer: Connection, table: Table, batch_size: int, progress: CopyProgress | None
) -> None:
    if any(isinstance(column.type, LargeBinary) for column in table.columns):
        batch_size = min(batch_size, BLOB_BATCH_SIZE)
    deferred = [column.key for column in _self_references(table)]
    rows = reader.execution_options(stream_results=True, yield_per=batch_size).execute(
        select(table).order_by(*table.primary_key.columns)
    )
    for partition in rows.partitions(batch_size):
        batch = [dict(row._mapping) for row in partition]
        for values in batch:
            values.update(dict.fromkeys(deferred))  # filled in by _restore_self_references
        writer.execute(table.insert(), batch)  # psycopg pipelines an executemany; sqlite3 loops in C
        if progress is not None:
            progress.advance(table.name, len(batch))


def _restore_self_references(reader: Connection, writer: Connection, table: Table, batch_size: int) -> None:
    columns = _self_references(table)
    if not columns:
        return
    keys = list(table.primary_key.columns)
    statement = (
        table.update()
        .where(and_(*(key == bindparam(f"pk_{key.key}") for key in keys)))
        .values({column.key: bindparam(f"v_{column.key}") for column in columns})
    )
    rows = reader.execution_options(stream_results=True, yield_per=batch_size).execute(
        select(*keys, *columns).where(or_(*(column.is_not(None) for column in columns)))
    )
    for partition in rows.partitions(batch_size):
        writer.execute(
            statement,
            [
                {
                    **{f"pk_{key.key}": row._mapping[key] for key in keys},
                    **{f"v_{column.key}": row._mapping[column] for column in columns},
                }
                for row in partition
            ],
        )


def _empty(writer: Connection, tables: Sequence[Table]) -> None:
    if writer.dialect.name == "postgresql":
        quote = writer.dialect.identifier_preparer.quote
        writer.execute(text(f"TRUNCATE {', '.join(quote(t.name) for t in tables)} RESTART IDENTITY CASCADE"))
        return
    for table in reversed(tables):
        writer.execute(table.delete())


def _reset_sequences(writer: Connection, tables: Sequence[Table]) -> None:
    """Rows arrived with their ids, so PostgreSQL's sequences never moved: point each past the largest id."""
    if writer.dialect.name != "postgresql":
        return  # SQLite picks max(rowid) + 1 by itself
    quote = writer.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = writer.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": quote(table.name), "column": column.name},
            )
            if sequence is None:
                continue  # not generated (scheduler_state's key is a campaign id)
            writer.execute(
                text(
                    f"SELECT setval(:sequence, COALESCE((SELECT MAX({quote(column.name)}) "
                    f"FROM {quote(table.name)}), 0) + 1, false)"
                ),
                {"sequence": sequence},
            )
