"""Audit API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    user_id: str | None
    project_id: str | None
    request_id: str
    method: str
    path: str
    resource_type: str | None
    resource_id: str | None
    action: str
    outcome: str
    status_code: int
