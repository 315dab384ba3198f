"""campaign choice: which campaign a person in several is talking to today

One row per platform user: the campaign they picked and the day the pick holds for, and the question the bot
asked when a message did not say which campaign it was for (with the message it keeps until the answer).

Revision ID: 0014_campaign_choice
Revises: 0013_many_campaigns
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_campaign_choice"
down_revision: str | None = "0013_many_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("question", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_choices_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_choices")),
        sa.UniqueConstraint("platform", "external_id", name=op.f("uq_campaign_choices_platform_external_id")),
    )
    op.create_index(op.f("ix_campaign_choices_campaign_id"), "campaign_choices", ["campaign_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_choices_campaign_id"), table_name="campaign_choices")
    op.drop_table("campaign_choices")
