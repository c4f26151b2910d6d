"""networking: networks, ports and their addresses, floating IPs, security groups

Revision ID: 1aa7a90083a4
Revises: 0bb5847a6373
Create Date: 2026-11-22 04:06:03.953433
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloudplane.kit.db

revision: str = "1aa7a90083a4"
down_revision: str | None = "0bb5847a6373"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("gateway_ip", sa.String(length=45), nullable=True),
        sa.Column("allocation_pools", sa.JSON(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("deleted_at", cloudplane.kit.db.UtcDateTime(), nullable=True),
        sa.Column("deleted_key", sa.String(length=36), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_networks_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint(
            "project_id",
            "name",
            "deleted_key",
            name=op.f("uq_networks_project_id_name_deleted_key"),
        ),
    )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_networks_listing", ["project_id", "deleted_key", "created_at", "id"], unique=False
        )

    op.create_table(
        "security_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("deleted_at", cloudplane.kit.db.UtcDateTime(), nullable=True),
        sa.Column("deleted_key", sa.String(length=36), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_security_groups_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups")),
        sa.UniqueConstraint(
            "project_id",
            "name",
            "deleted_key",
            name=op.f("uq_security_groups_project_id_name_deleted_key"),
        ),
    )
    with op.batch_alter_table("security_groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_security_groups_listing",
            ["project_id", "deleted_key", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("fixed_ips", sa.JSON(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("device_owner", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("deleted_at", cloudplane.kit.db.UtcDateTime(), nullable=True),
        sa.Column("deleted_key", sa.String(length=36), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ports_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_ports_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint(
            "network_id", "mac", "deleted_key", name=op.f("uq_ports_network_id_mac_deleted_key")
        ),
    )
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.create_index("ix_ports_device", ["device_id"], unique=False)
        batch_op.create_index(
            "ix_ports_listing", ["project_id", "deleted_key", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_ports_network", ["network_id", "deleted_key"], unique=False)

    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("ethertype", sa.String(length=4), nullable=False),
        sa.Column("port_min", sa.Integer(), nullable=True),
        sa.Column("port_max", sa.Integer(), nullable=True),
        sa.Column("remote_cidr", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_security_group_rules_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["security_groups.id"],
            name=op.f("fk_security_group_rules_remote_group_id_security_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_security_group_rules_security_group_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_group_rules")),
    )
    with op.batch_alter_table("security_group_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_group_rules_security_group_id"),
            ["security_group_id"],
            unique=False,
        )

    op.create_table(
        "floating_ips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip", sa.String(length=45), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("task_state", sa.String(length=32), nullable=True),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("created_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cloudplane.kit.db.UtcDateTime(), nullable=False),
        sa.Column("deleted_at", cloudplane.kit.db.UtcDateTime(), nullable=True),
        sa.Column("deleted_key", sa.String(length=36), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_floating_ips_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_floating_ips_port_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_floating_ips_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floating_ips")),
        sa.UniqueConstraint("port_id", "fixed_ip", name=op.f("uq_floating_ips_port_id_fixed_ip")),
    )
    with op.batch_alter_table("floating_ips", schema=None) as batch_op:
        batch_op.create_index(
            "ix_floating_ips_listing",
            ["project_id", "deleted_key", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_floating_ips_network_id"), ["network_id"], unique=False
        )

    op.create_table(
        "ip_allocations",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=True),
        sa.Column("floating_ip_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ip_allocations_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_ip_allocations_port_id_ports")
        ),
        sa.PrimaryKeyConstraint("network_id", "ip", name=op.f("pk_ip_allocations")),
    )
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ip_allocations_floating_ip_id"), ["floating_ip_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ip_allocations_port_id"), ["port_id"], unique=False)

    op.create_table(
        "port_security_groups",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_port_security_groups_port_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_port_security_groups_security_group_id_security_groups"),
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "security_group_id", name=op.f("pk_port_security_groups")
        ),
    )
    with op.batch_alter_table("port_security_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_port_security_groups_security_group_id"),
            ["security_group_id"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop one a foreign key needs).
    op.drop_table("port_security_groups")
    op.drop_table("ip_allocations")
    op.drop_table("floating_ips")
    op.drop_table("security_group_rules")
    op.drop_table("ports")
    op.drop_table("security_groups")
    op.drop_table("networks")
