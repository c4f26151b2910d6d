"""Audit records of the repairs cloudplane makes by itself (the leak sweep, the reconciler).

They have no user: ``request_id`` names the job that made the repair and ``method`` says what
kind of job it is, so an operator reading ``GET /api/v1/audit-events`` sees them beside the
requests, under the resource they changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.audit.models import AuditEvent
from cloudplane.kit.clock import utcnow


@dataclass(frozen=True, slots=True)
class Repairer:
    """A job that repairs things: its ``request_id`` and its ``method`` (8 characters at most,
    the column's width)."""

    request_id: str
    method: str


SWEEPER = Repairer("sweeper", "SWEEP")
RECONCILER = Repairer("reconciler", "REPAIR")


def record_repair(
    session: AsyncSession,
    by: Repairer,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    project_id: str | None,
    status_code: int = 200,
) -> None:
    """Add the audit record of one repair to ``session``: it is stored with the repair itself,
    or not at all."""
    session.add(
        AuditEvent(
            at=utcnow(),
            user_id=None,
            project_id=project_id,
            request_id=by.request_id,
            method=by.method,
            path=f"/api/v1/{resource_type}/{resource_id}",
            resource_type=resource_type,
            resource_id=resource_id,
            action=action,
            outcome="success",
            status_code=status_code,
        )
    )
