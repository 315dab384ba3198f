"""dashboard sign-in with WeCom or DingTalk

A session may now come from a platform sign-in: it names the platform user, and belongs to a coordinator or to a
liaison (who sees their own unit, read-only). Codes already exchanged are kept until they expire, so none signs
in twice.

Revision ID: 0011_platform_sign_in
Revises: 0010_notices
Create Date: 2026-12-05 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_platform_sign_in"
down_revision: str | None = "0010_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_sign_in_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_sign_in_codes")),
        sa.UniqueConstraint("platform", "code_sha256", name=op.f("uq_used_sign_in_codes_platform_code_sha256")),
    )
    with op.batch_alter_table("used_sign_in_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_sign_in_codes_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.alter_column("coordinator_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_dashboard_sessions_contact_id"), ["contact_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_dashboard_sessions_contact_id_contacts"),
            "contacts",
            ["contact_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            op.f("ck_dashboard_sessions_one_owner"), "(coordinator_id IS NULL) <> (contact_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM dashboard_sessions WHERE coordinator_id IS NULL")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dashboard_sessions_one_owner"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_dashboard_sessions_contact_id_contacts"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_contact_id"))
        batch_op.drop_column("external_id")
        batch_op.drop_column("platform")
        batch_op.drop_column("contact_id")
        batch_op.alter_column("coordinator_id", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("used_sign_in_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_sign_in_codes_expires_at"))
    op.drop_table("used_sign_in_codes")
