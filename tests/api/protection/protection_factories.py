"""Plain functions that make data-protection test data through the API, as a client would."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.api.storage.storage_factories import attach, available_volume
from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.protection.providers.backup import BackupProvider
from cloudplane.protection.providers.snapshot import SnapshotProvider

BACKUP = BackupProvider.id
SNAPSHOT = SnapshotProvider.id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def server_with_two_volumes(api: ApiSession) -> tuple[dict[str, Any], list[str]]:
    """An ACTIVE server with two data volumes attached (``vdb``, ``vdc``)."""
    server = await active_server(api)
    volume_ids = []
    for device in ("vdb", "vdc"):
        volume = await available_volume(api, size_gb=1)
        await attach(api, server["id"], volume["id"], device)
        await api.settle()
        volume_ids.append(volume["id"])
    return server, volume_ids


async def create_plan(
    api: ApiSession,
    resources: list[dict[str, str]],
    *,
    provider_id: str = BACKUP,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await api.post(
        "/protection/plans",
        json={
            "name": unique("plan"),
            "provider_id": provider_id,
            "resources": resources,
            "parameters": parameters or {},
        },
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def checkpoint_of(api: ApiSession, plan_id: str) -> dict[str, Any]:
    """A manual checkpoint of the plan, after the worker finished it."""
    response = await api.post("/protection/checkpoints", json={"plan_id": plan_id})
    assert response.status_code == 202, response.text
    await api.settle()
    return await show(api, f"/protection/checkpoints/{response.json()['id']}")


async def show(api: ApiSession, path: str) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def run(api: ApiSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a restore or verification, wait for the worker, and return its final body."""
    response = await api.post(path, json=body)
    assert response.status_code == 202, response.text
    await api.settle()
    return await show(api, f"{path}/{response.json()['id']}")


async def exported_digest(api: ApiSession, volume_id: str, scratch: Path) -> str:
    """SHA-256 of what the driver exports for the volume now."""
    destination = scratch / f"export-{uuid.uuid4().hex}"
    await api.runtime.driver.export_volume(volume_id, destination)
    return hashlib.sha256(destination.read_bytes()).hexdigest()


def key(kind: str, resource_id: str) -> str:
    return f"{kind.capitalize()}#{resource_id}"


def top_of_next_hour(now: datetime, *, hours_ahead: int = 1) -> datetime:
    """A whole hour at least ``hours_ahead`` hours after ``now``: a start no test clock passes
    by accident before it means to."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_ahead)


async def create_trigger(
    api: ApiSession,
    pattern: str,
    *,
    start: datetime,
    fmt: str = "crontab",
    window_s: int = 120,
    end: datetime | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "format": fmt,
        "pattern": pattern,
        "start_time": start.isoformat(),
        "window_s": window_s,
    }
    if end is not None:
        properties["end_time"] = end.isoformat()
    response = await api.post(
        "/protection/triggers", json={"name": unique("trigger"), "properties": properties}
    )
    assert response.status_code == 201, response.text
    trigger: dict[str, Any] = response.json()
    return trigger


async def create_scheduled_operation(
    api: ApiSession,
    plan_id: str,
    trigger_id: str,
    *,
    operation_type: str = "protect",
    **definition: int,
) -> dict[str, Any]:
    response = await api.post(
        "/protection/scheduled-operations",
        json={
            "name": unique("schedule"),
            "operation_type": operation_type,
            "trigger_id": trigger_id,
            "operation_definition": {"plan_id": plan_id, **definition},
        },
    )
    assert response.status_code == 201, response.text
    operation: dict[str, Any] = response.json()
    return operation


async def start_plan(api: ApiSession, plan_id: str) -> None:
    response = await api.post(f"/protection/plans/{plan_id}/start")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "started"


async def volume_plan(api: ApiSession) -> dict[str, Any]:
    """A plan protecting one new volume with the backup provider."""
    volume = await available_volume(api, size_gb=1)
    return await create_plan(api, [{"type": "volume", "id": volume["id"]}])


async def logs_of(api: ApiSession, scheduled_operation_id: str) -> list[dict[str, Any]]:
    response = await api.get(
        "/protection/operation-logs",
        params={"scheduled_operation_id": scheduled_operation_id, "sort": "created_at:asc"},
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def checkpoints_of(api: ApiSession, plan_id: str, **filters: str) -> list[dict[str, Any]]:
    response = await api.get(
        "/protection/checkpoints", params={"plan_id": plan_id, "sort": "created_at:asc", **filters}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
