"""operations: when each was last handed to the task queue

Revision ID: 5ca1e0a7d15b
Revises: 7c1e5a0b9d42
Create Date: 2026-11-22 06:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloudplane.kit.db

revision: str = "5ca1e0a7d15b"
down_revision: str | Sequence[str] | None = "7c1e5a0b9d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch_op:
        batch_op.add_column(
            sa.Column("dispatched_at", cloudplane.kit.db.UtcDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("operations") as batch_op:
        batch_op.drop_column("dispatched_at")
