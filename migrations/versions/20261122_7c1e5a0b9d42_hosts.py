"""hosts: the hypervisor hosts of the libvirt driver

Revision ID: 7c1e5a0b9d42
Revises: 7c41d2e9b5a8
Create Date: 2026-11-22 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloudplane.kit.db

revision: str = "7c1e5a0b9d42"
down_revision: str | Sequence[str] | None = "7c41d2e9b5a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("uri", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("free_memory_mb", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("last_seen_at", cloudplane.kit.db.UtcDateTime(), nullable=True),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("uri", name=op.f("uq_hosts_uri")),
    )


def downgrade() -> None:
    op.drop_table("hosts")
