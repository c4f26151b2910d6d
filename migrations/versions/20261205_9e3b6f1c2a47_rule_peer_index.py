"""security_group_rules: an index on remote_group_id, for finding the groups rules name as peers

Revision ID: 9e3b6f1c2a47
Revises: 5ca1e0a7d15b
Create Date: 2026-12-05 15:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9e3b6f1c2a47"
down_revision: str | Sequence[str] | None = "5ca1e0a7d15b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("security_group_rules") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_group_rules_remote_group_id"), ["remote_group_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("security_group_rules") as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_group_rules_remote_group_id"))
