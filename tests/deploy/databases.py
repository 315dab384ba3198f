"""Fresh, never-migrated databases for tests of migrations and copies (what a first start finds)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from storage.db import make_engine
from storage.models import Base
from tests.conftest import POSTGRES_ADMIN_URL


def create_postgres_database(prefix: str) -> str:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(backend: str, directory: Path, name: str = "fresh") -> Iterator[str]:
    """Yield the URL of an empty database on `backend`, dropped afterwards (for a fixture)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{name}.db'}"
        return
    url = create_postgres_database(f"duban_{name}")
    try:
        yield url
    finally:
        drop_postgres_database(url)


def rows_of(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in key order, as the model reads it (for comparing two databases)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = {
            table.name: [
                dict(row._mapping) for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }
    engine.dispose()
    return rows
