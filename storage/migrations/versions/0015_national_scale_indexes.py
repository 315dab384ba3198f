"""indexes for a parent campaign over many children, and for a large outbox

A parent campaign's 汇总 counts this week's reports of every campaign below it (docs/plan-format.md, "Nesting"):
through the index on campaign alone that read every report of every week of the children (3 million rows for a
national campaign of 31 provinces, a quarter of a second); through (campaign, year, week) only this week's.
One campaign's 汇总 asks for its reports of one week the same way.

The delivery worker claims due outbox rows in (channel, target, id) order. With only (status, not_before) every
claim of 200 rows sorted every pending row: draining the 68,000 reminders of four 4,000-unit campaigns' Friday
took 118 s, and a national Friday (half a million) grows with the square. Through (status, channel, target, id)
the rows come in order: 36 s for the same 68,000.

Revision ID: 0015_national_scale_indexes
Revises: 0014_campaign_choice
Create Date: 2026-12-06 18:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_national_scale_indexes"
down_revision: str | None = "0014_campaign_choice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX on both databases: SQLite's batch mode would copy the tables for nothing.
    op.create_index("ix_weekly_reports_campaign_week", "weekly_reports", ["campaign_id", "iso_year", "iso_week"])
    op.create_index("ix_outbox_status_route", "outbox", ["status", "channel", "target", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_route", table_name="outbox")
    op.drop_index("ix_weekly_reports_campaign_week", table_name="weekly_reports")
