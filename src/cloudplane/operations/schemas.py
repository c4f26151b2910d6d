"""Operation API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class OperationEventOut(BaseModel):
    at: datetime
    message: str


class OperationOut(BaseModel):
    id: str
    action: str
    resource_type: str
    resource_id: str
    status: str
    error: str | None
    request_id: str | None
    user_id: str | None
    project_id: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime
    events: list[OperationEventOut]
