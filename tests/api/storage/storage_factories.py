"""Plain functions that make block-storage test data through the API, as a client would."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.support.api import ApiSession


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_volume(api: ApiSession, size_gb: int = 1, **extra: Any) -> dict[str, Any]:
    """Create a volume (202) and return its body; it is ``creating`` until the worker runs."""
    body = {"name": extra.pop("name", None) or unique("vol"), "size_gb": size_gb, **extra}
    response = await api.post("/volumes", json=body)
    assert response.status_code == 202, response.text
    volume: dict[str, Any] = response.json()
    return volume


async def available_volume(api: ApiSession, size_gb: int = 1, **extra: Any) -> dict[str, Any]:
    """A volume that finished creating (``available``)."""
    volume = await create_volume(api, size_gb, **extra)
    await api.settle()
    return await expect_volume_status(api, volume["id"], "available")


async def show_volume(api: ApiSession, volume_id: str) -> dict[str, Any]:
    response = await api.get(f"/volumes/{volume_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def expect_volume_status(api: ApiSession, volume_id: str, status: str) -> dict[str, Any]:
    volume = await show_volume(api, volume_id)
    assert volume["status"] == status, volume
    return volume


async def attach(
    api: ApiSession, server_id: str, volume_id: str, device: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"volume_id": volume_id}
    if device is not None:
        body["device"] = device
    response = await api.post(f"/servers/{server_id}/volumes", json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def snapshot_of(api: ApiSession, volume_id: str, **extra: Any) -> dict[str, Any]:
    """A snapshot of the volume that finished creating (``available``)."""
    body = {"volume_id": volume_id, "name": extra.pop("name", None) or unique("snap"), **extra}
    response = await api.post("/snapshots", json=body)
    assert response.status_code == 202, response.text
    await api.settle()
    shown = await api.get(f"/snapshots/{response.json()['id']}")
    assert shown.json()["status"] == "available", shown.text
    snapshot: dict[str, Any] = shown.json()
    return snapshot


async def create_pool(
    admin: ApiSession, path: Path, *, capacity_gb: int | None = None, name: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or unique("pool"), "kind": "dir", "path": str(path)}
    if capacity_gb is not None:
        body["capacity_gb"] = capacity_gb
    response = await admin.post("/storage-pools", json=body)
    assert response.status_code == 201, response.text
    pool: dict[str, Any] = response.json()
    return pool


async def create_volume_type(
    admin: ApiSession, pool_id: str, *, name: str | None = None, is_default: bool = False
) -> dict[str, Any]:
    response = await admin.post(
        "/volume-types",
        json={"name": name or unique("type"), "storage_pool_id": pool_id, "is_default": is_default},
    )
    assert response.status_code == 201, response.text
    volume_type: dict[str, Any] = response.json()
    return volume_type


async def pool_with_type(
    admin: ApiSession, path: Path, capacity_gb: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``dir`` pool of ``capacity_gb`` at ``path`` and a (non-default) type placed in it."""
    pool = await create_pool(admin, path, capacity_gb=capacity_gb)
    return pool, await create_volume_type(admin, pool["id"])


async def show_pool(admin: ApiSession, pool_id: str) -> dict[str, Any]:
    response = await admin.get(f"/storage-pools/{pool_id}")
    assert response.status_code == 200, response.text
    pool: dict[str, Any] = response.json()
    return pool
