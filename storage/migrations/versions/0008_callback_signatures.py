"""accepted callback signatures

DingTalk's callback signature covers only the timestamp: within the hour it is accepted, the same signature
passed with any body. Each accepted signature is kept, with the SHA-256 of its body, until its timestamp is too
old to pass anyway; a second use with another body is refused.

Revision ID: 0008_callback_signatures
Revises: 0007_dashboard_sessions
Create Date: 2026-12-05 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_callback_signatures"
down_revision: str | None = "0007_dashboard_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_signatures")),
        sa.UniqueConstraint("platform", "signature", name=op.f("uq_callback_signatures_platform_signature")),
    )
    with op.batch_alter_table("callback_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_signatures_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_signatures_expires_at"))
    op.drop_table("callback_signatures")
