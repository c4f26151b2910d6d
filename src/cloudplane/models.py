"""Imports every table so that ``Base.metadata`` is complete (for Alembic and tests)."""

from cloudplane.audit.models import AuditEvent
from cloudplane.compute.models import Flavor, Server
from cloudplane.hosts.models import Host
from cloudplane.identity.models import ApiKey, Membership, Project, Quota, User
from cloudplane.images.models import Image
from cloudplane.kit.db import Base
from cloudplane.kit.idempotency_models import IdempotencyRecord
from cloudplane.network.models import (
    FloatingIp,
    IpAllocation,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
)
from cloudplane.operations.models import Operation, OperationEvent, PeriodicJob
from cloudplane.protection.models import (
    Checkpoint,
    ProtectionLog,
    ProtectionPlan,
    ProtectionTrigger,
    Restore,
    ScheduledOperation,
    Verification,
)
from cloudplane.storage.models import Snapshot, StoragePool, Volume, VolumeAttachment, VolumeType

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Checkpoint",
    "Flavor",
    "FloatingIp",
    "Host",
    "IdempotencyRecord",
    "Image",
    "IpAllocation",
    "Membership",
    "Network",
    "Operation",
    "OperationEvent",
    "PeriodicJob",
    "Port",
    "PortSecurityGroup",
    "Project",
    "ProtectionLog",
    "ProtectionPlan",
    "ProtectionTrigger",
    "Quota",
    "Restore",
    "ScheduledOperation",
    "SecurityGroup",
    "SecurityGroupRule",
    "Server",
    "Snapshot",
    "StoragePool",
    "User",
    "Verification",
    "Volume",
    "VolumeAttachment",
    "VolumeType",
]
