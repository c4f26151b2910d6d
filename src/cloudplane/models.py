"""Imports every table so that ``Base.metadata`` is complete (for Alembic and tests)."""

from cloudplane.audit.models import AuditEvent
from cloudplane.compute.models import Flavor, Server
from cloudplane.identity.models import ApiKey, Membership, Project, Quota, User
from cloudplane.images.models import Image
from cloudplane.kit.db import Base
from cloudplane.kit.idempotency_models import IdempotencyRecord
from cloudplane.operations.models import Operation, OperationEvent, PeriodicJob

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Flavor",
    "IdempotencyRecord",
    "Image",
    "Membership",
    "Operation",
    "OperationEvent",
    "PeriodicJob",
    "Project",
    "Quota",
    "Server",
    "User",
]
