"""The migrations build exactly the schema storage/models.py declares (indexes included), on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import ForeignKeyConstraint, inspect

from storage.models import Base
from tests.conftest import Database


def test_migrated_database_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert _without_inline_sqlite_keys(db, differences) == []


def _without_inline_sqlite_keys(db: Database, differences: list[Any]) -> list[Any]:
    """Migration 0013 adds campaigns' two foreign keys in place on SQLite (copying campaigns would cascade-delete
    everything), so they are column constraints, whose name and ON DELETE SQLAlchemy's SQLite reflection does not
    read: the same key then shows as removed and added. Such a pair is no difference; anything else still is."""
    if db.backend != "sqlite":
        return differences

    def key(fk: ForeignKeyConstraint) -> tuple[str, tuple[str, ...], str]:
        return (fk.table.name, tuple(c.name for c in fk.columns), fk.referred_table.name)

    added = {key(d[1]) for d in differences if isinstance(d, tuple) and d[0] == "add_fk"}
    removed = {key(d[1]) for d in differences if isinstance(d, tuple) and d[0] == "remove_fk"}
    paired = {k for k in added & removed if k[0] == "campaigns"}
    return [
        d for d in differences if not (isinstance(d, tuple) and d[0] in ("add_fk", "remove_fk") and key(d[1]) in paired)
    ]


def test_overdue_issue_queries_have_their_indexes(db: Database) -> None:
    indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("issues")}
    assert indexes["ix_issues_campaign_status_due"] == ["campaign_id", "status", "due"]
    assert indexes["ix_issues_campaign_unit_due"] == ["campaign_id", "unit_id", "due", "number"]
