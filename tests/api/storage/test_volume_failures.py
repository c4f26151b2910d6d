"""Backend failures: each operation leaves its resource in a state that can be acted on."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    create_volume,
    expect_volume_status,
)
from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.drivers.errors import DriverError


def break_driver(api: ApiSession, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Make one driver call fail the way a backend refusal does."""

    async def _refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise DriverError(f"injected fault in {method}", code="injected_fault")

    monkeypatch.setattr(api.runtime.driver, method, _refuse)


async def operation_of(api: ApiSession, operation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await api.get(f"/operations/{operation_id}")).json()
    return body


async def test_a_failed_create_leaves_an_error_volume_that_can_be_deleted(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_driver(admin, monkeypatch, "create_volume")
    volume = await create_volume(admin)
    await admin.settle()
    failed = await expect_volume_status(admin, volume["id"], "error")
    assert "injected fault" in failed["error"]
    assert (await operation_of(admin, volume["operation_id"]))["status"] == "failed"
    monkeypatch.undo()
    assert (await admin.delete(f"/volumes/{volume['id']}")).status_code == 202
    await admin.settle()
    assert (await admin.get(f"/volumes/{volume['id']}")).status_code == 404


async def test_a_failed_attach_gives_the_volume_back(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin)
    break_driver(admin, monkeypatch, "attach_volume")
    accepted = await attach(admin, server["id"], volume["id"])
    await admin.settle()
    back = await expect_volume_status(admin, volume["id"], "available")
    assert back["attachments"] == []
    assert "attach failed" in back["error"]
    assert (await operation_of(admin, accepted["operation_id"]))["status"] == "failed"
    monkeypatch.undo()
    await attach(admin, server["id"], volume["id"])
    await admin.settle()
    assert (await expect_volume_status(admin, volume["id"], "in-use"))["error"] is None


async def test_a_failed_detach_leaves_the_volume_in_use_to_retry(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin)
    await attach(admin, server["id"], volume["id"])
    await admin.settle()
    break_driver(admin, monkeypatch, "detach_volume")
    await admin.delete(f"/servers/{server['id']}/volumes/{volume['id']}")
    await admin.settle()
    assert "detach failed" in (await expect_volume_status(admin, volume["id"], "in-use"))["error"]
    monkeypatch.undo()
    await admin.delete(f"/servers/{server['id']}/volumes/{volume['id']}")
    await admin.settle()
    await expect_volume_status(admin, volume["id"], "available")


async def test_a_failed_extend_gives_the_space_back(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = await available_volume(admin, 2)
    break_driver(admin, monkeypatch, "extend_volume")
    await admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 5})
    await admin.settle()
    failed = await expect_volume_status(admin, volume["id"], "error")
    assert failed["size_gb"] == 2
    quotas = (await admin.get(f"/projects/{admin.project_id}/quotas")).json()
    assert quotas["in_use"]["volume_gb"] == 2


async def test_a_failed_snapshot_is_an_error_snapshot_that_can_be_deleted(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = await available_volume(admin)
    break_driver(admin, monkeypatch, "create_snapshot")
    response = await admin.post("/snapshots", json={"volume_id": volume["id"], "name": "broken"})
    await admin.settle()
    snapshot = (await admin.get(f"/snapshots/{response.json()['id']}")).json()
    assert (snapshot["status"], "injected fault" in snapshot["error"]) == ("error", True)
    assert_blocked = await admin.delete(f"/volumes/{volume['id']}")
    assert assert_blocked.status_code == 409
    assert (await admin.delete(f"/snapshots/{snapshot['id']}")).status_code == 202
    await admin.settle()
    assert (await admin.delete(f"/volumes/{volume['id']}")).status_code == 202
    await admin.settle()
