"""deliverables.kind: the contact form a liaison's registration submits

A plan may mark one deliverable as the campaign's contact form (附件1, `kind: contacts`); a unit whose liaison
registers (or is approved) has then submitted it. Existing deliverables are ordinary ones (NULL).

Revision ID: 0009_deliverable_kind
Revises: 0008_callback_signatures
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_deliverable_kind"
down_revision: str | None = "0008_callback_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliverables", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum("contacts", name="deliverablekind", native_enum=False, length=24, create_constraint=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("deliverables", schema=None) as batch_op:
        batch_op.drop_column("kind")
