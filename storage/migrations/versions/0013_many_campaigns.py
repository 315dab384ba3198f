"""many campaigns in one deployment

A campaign gets a short alias a liaison can type before a command (【三年行动】周报 …), an archived flag (an
archived campaign is no longer served, reminded or offered), and an optional parent: the campaign it reports up
to, and which of the parent's units it is (docs/plan-format.md, "Nesting"). Existing rows keep working: no alias,
not archived, no parent.

Revision ID: 0013_many_campaigns
Revises: 0012_materials
Create Date: 2026-12-05 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_many_campaigns"
down_revision: str | None = "0012_materials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # campaigns is the parent of every other table: SQLite's batch mode would copy it and DROP the original, and
    # with foreign keys on (they are, on every connection) that DROP cascades and empties the whole database.
    # So on SQLite the columns are added in place (ALTER TABLE … ADD COLUMN accepts a REFERENCES clause when the
    # column defaults to NULL); PostgreSQL alters the table as usual.
    if op.get_bind().dialect.name == "sqlite":
        present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("campaigns")}
        op.execute("ALTER TABLE campaigns ADD COLUMN alias VARCHAR(40)")
        op.execute("ALTER TABLE campaigns ADD COLUMN archived BOOLEAN DEFAULT 0 NOT NULL")
        if "parent_id" not in present:  # a downgrade on SQLite leaves the two foreign-key columns (see there)
            op.execute(
                "ALTER TABLE campaigns ADD COLUMN parent_id INTEGER"
                " CONSTRAINT fk_campaigns_parent_id_campaigns REFERENCES campaigns (id) ON DELETE SET NULL"
            )
            op.execute(
                "ALTER TABLE campaigns ADD COLUMN parent_unit_id INTEGER"
                " CONSTRAINT fk_campaigns_parent_unit_id_units REFERENCES units (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("campaigns", sa.Column("alias", sa.String(length=40), nullable=True))
        op.add_column("campaigns", sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()))
        op.add_column("campaigns", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.add_column("campaigns", sa.Column("parent_unit_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_campaigns_parent_id_campaigns"),
            "campaigns",
            "campaigns",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        op.create_foreign_key(
            op.f("fk_campaigns_parent_unit_id_units"),
            "campaigns",
            "units",
            ["parent_unit_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("uq_campaigns_alias"), "campaigns", ["alias"], unique=True)
    op.create_index(op.f("ix_campaigns_parent_id"), "campaigns", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_campaigns_parent_id"), table_name="campaigns")
    op.drop_index(op.f("uq_campaigns_alias"), table_name="campaigns")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_campaigns_parent_unit_id_units"), "campaigns", type_="foreignkey")
        op.drop_constraint(op.f("fk_campaigns_parent_id_campaigns"), "campaigns", type_="foreignkey")
    # SQLite drops a column in place (3.35+) unless it is in a foreign key: those two stay, unused, rather than
    # copying campaigns (see upgrade).
    op.drop_column("campaigns", "archived")
    op.drop_column("campaigns", "alias")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("campaigns", "parent_unit_id")
        op.drop_column("campaigns", "parent_id")
