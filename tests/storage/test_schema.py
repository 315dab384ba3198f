"""The migrations build exactly the schema storage/models.py declares (indexes included), on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.models import Base
from tests.conftest import Database


def test_migrated_database_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_overdue_issue_queries_have_their_indexes(db: Database) -> None:
    indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("issues")}
    assert indexes["ix_issues_campaign_status_due"] == ["campaign_id", "status", "due"]
    assert indexes["ix_issues_campaign_unit_due"] == ["campaign_id", "unit_id", "due", "number"]
