"""the duplicate check knows the sender

A processed message was known by platform and message id alone, so one sender's id (or the simulator's, which
spoke in WeCom's namespace) could stand for another sender's message: the second got the first one's stored
reply and was never handled. The key is now platform + sender + message id. Rows recorded before this have no
sender (''): a platform retry that spans the upgrade is handled once more, which is what an upgrade during a
retry could always do.

Revision ID: 0006_processed_sender
Revises: 0005_issue_overdue_indexes
Create Date: 2026-12-05 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_processed_sender"
down_revision: str | None = "0005_issue_overdue_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=128), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_processed_messages_platform_message_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_processed_messages_platform_sender_message_id"), ["platform", "sender", "message_id"]
        )
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.alter_column("sender", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_processed_messages_platform_sender_message_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_processed_messages_platform_message_id"), ["platform", "message_id"]
        )
        batch_op.drop_column("sender")
