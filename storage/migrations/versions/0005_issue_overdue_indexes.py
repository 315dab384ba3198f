"""indexes for overdue issue queries

逾期 counts a campaign's overdue issues (campaign, status, due: from the index alone) and lists the first of
them in (unit, due, number) order; at 100,000 issues both read every open issue row and sorted them.
汇总's per-unit counts (one GROUP BY unit over status and due) read every issue row through the index on
(campaign, unit, status); with due added that index covers the query, so the table itself is not read.

Revision ID: 0005_issue_overdue_indexes
Revises: 0004_scheduler
Create Date: 2026-12-04 19:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_issue_overdue_indexes"
down_revision: str | None = "0004_scheduler"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.create_index("ix_issues_campaign_status_due", ["campaign_id", "status", "due"], unique=False)
        batch_op.create_index("ix_issues_campaign_unit_due", ["campaign_id", "unit_id", "due", "number"], unique=False)
        batch_op.drop_index("ix_issues_campaign_unit_status")
        batch_op.create_index(
            "ix_issues_campaign_unit_status_due", ["campaign_id", "unit_id", "status", "due"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_campaign_unit_status_due")
        batch_op.create_index("ix_issues_campaign_unit_status", ["campaign_id", "unit_id", "status"], unique=False)
        batch_op.drop_index("ix_issues_campaign_unit_due")
        batch_op.drop_index("ix_issues_campaign_status_due")
