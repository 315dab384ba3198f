"""materials: files and pictures sent in chat, kept with a deliverable, an issue or a weekly report

Files are content-addressed (stored_files, by SHA-256); their bytes are in stored_file_chunks when the database
holds them, or in a local directory. A plan may require evidence before 已整改.

Revision ID: 0012_materials
Revises: 0011_platform_sign_in
Create Date: 2026-12-05 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_materials"
down_revision: str | None = "0011_platform_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_required", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("evidence_focus_areas", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "stored_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "stored_file_chunks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_files.sha256"],
            name=op.f("fk_stored_file_chunks_sha256_stored_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_stored_file_chunks")),
    )
    op.create_table(
        "materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "target",
            sa.Enum(
                "deliverable",
                "issue",
                "weekly",
                name="materialtarget",
                native_enum=False,
                length=24,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("deliverable_id", sa.Integer(), nullable=True),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("iso_year", sa.Integer(), nullable=True),
        sa.Column("iso_week", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_materials_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_materials_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverables.id"],
            name=op.f("fk_materials_deliverable_id_deliverables"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_materials_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sha256"], ["stored_files.sha256"], name=op.f("fk_materials_sha256_stored_files")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_materials_unit_id_units"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_materials")),
    )
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.create_index("ix_materials_sender", ["campaign_id", "platform", "external_id", "target"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_deliverable_id"), ["deliverable_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_issue_id"), ["issue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_table("materials")
    op.drop_table("stored_file_chunks")
    op.drop_table("stored_files")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("evidence_focus_areas")
        batch_op.drop_column("evidence_required")
