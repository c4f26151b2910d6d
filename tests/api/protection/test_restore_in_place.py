"""Restores in place: the saved data written back into the protected volumes themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.api.protection.protection_factories import (
    SNAPSHOT,
    checkpoint_of,
    create_plan,
    exported_digest,
    key,
    run,
    server_with_two_volumes,
    show,
)
from tests.api.storage.storage_factories import available_volume, show_volume
from tests.support.api import ApiSession, assert_error, until_finished
from tests.support.databases import ALL_ENGINES
from tests.support.factories import create_server
from tests.support.held_calls import HeldCall

from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.operations.models import Operation
from cloudplane.protection.providers import backup_store
from cloudplane.protection.restore_tasks import RunRestore
from cloudplane.storage.attachment_sweep import sweep_volume_attachments

_PARTLY_OLD = "the restore in place stopped before it finished; the data may be partly old"


def _simulator(api: ApiSession) -> SimulatorDriver:
    driver = api.runtime.driver
    assert isinstance(driver, SimulatorDriver)
    return driver


async def _volumes_protected(api: ApiSession, count: int) -> tuple[list[str], dict[str, Any]]:
    """``count`` detached volumes holding known data, and an available checkpoint of them."""
    volume_ids = [(await available_volume(api, size_gb=1))["id"] for _ in range(count)]
    for index, volume_id in enumerate(volume_ids):
        await _simulator(api).write_volume_data(volume_id, 512 * index, f"saved {index}".encode())
    plan = await create_plan(api, [{"type": "volume", "id": v} for v in volume_ids])
    checkpoint = await checkpoint_of(api, plan["id"])
    assert checkpoint["status"] == "available", checkpoint
    return volume_ids, checkpoint


def _in_place(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {"checkpoint_id": checkpoint["id"], "target": "in_place"}


async def _give_up(api: ApiSession, operation_id: str) -> None:
    """Do what the runner does when a restore's operation has run out of attempts or time."""
    async with api.runtime.sessions() as session:
        operation = await session.get(Operation, operation_id)
    assert operation is not None
    await RunRestore().fail(api.runtime, operation, "gave up after 2 attempts")


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_restore_in_place_writes_the_saved_data_back_into_the_same_volumes(
    admin: ApiSession, tmp_path: Path
) -> None:
    volume_ids, checkpoint = await _volumes_protected(admin, 2)
    saved = [await exported_digest(admin, v, tmp_path) for v in volume_ids]
    for volume_id in volume_ids:
        await _simulator(admin).write_volume_data(volume_id, 0, b"changed after the checkpoint")
    assert [await exported_digest(admin, v, tmp_path) for v in volume_ids] != saved
    volumes_before = (await admin.get("/volumes", params={"limit": 1000})).json()["items"]

    restore = await run(admin, "/protection/restores", _in_place(checkpoint))

    assert restore["status"] == "success", restore
    assert restore["target"] == "in_place"
    for volume_id in volume_ids:
        assert restore["resources_status"][key("volume", volume_id)] == "success"
        assert restore["restored_resources"][key("volume", volume_id)] == volume_id
        assert (await show_volume(admin, volume_id))["status"] == "available"
    assert [await exported_digest(admin, v, tmp_path) for v in volume_ids] == saved
    volumes_after = (await admin.get("/volumes", params={"limit": 1000})).json()["items"]
    assert {v["id"] for v in volumes_after} == {v["id"] for v in volumes_before}


async def test_volumes_of_a_running_server_or_deleted_are_not_restored_in_place(
    admin: ApiSession, tmp_path: Path
) -> None:
    server, attached_ids = await server_with_two_volumes(admin)
    detached_id = (await available_volume(admin, size_gb=1))["id"]
    gone_id = (await available_volume(admin, size_gb=1))["id"]
    plan = await create_plan(
        admin,
        [
            {"type": "server", "id": server["id"]},
            {"type": "volume", "id": detached_id},
            {"type": "volume", "id": gone_id},
        ],
    )
    checkpoint = await checkpoint_of(admin, plan["id"])
    assert checkpoint["status"] == "available", checkpoint
    await _simulator(admin).write_volume_data(attached_ids[0], 0, b"written while attached")
    kept = await exported_digest(admin, attached_ids[0], tmp_path)
    assert (await admin.delete(f"/volumes/{gone_id}")).status_code == 202
    await admin.settle()

    restore = await run(admin, "/protection/restores", _in_place(checkpoint))

    assert restore["status"] == "fail"
    statuses, reasons = restore["resources_status"], restore["resources_reason"]
    for volume_id in attached_ids:
        assert statuses[key("volume", volume_id)] == "fail"
        assert "in-use" in reasons[key("volume", volume_id)]
        assert (await show_volume(admin, volume_id))["status"] == "in-use"
    assert "no longer exists" in reasons[key("volume", gone_id)]
    assert statuses[key("volume", detached_id)] == "success"
    assert statuses[key("server", server["id"])] == "success"
    assert await exported_digest(admin, attached_ids[0], tmp_path) == kept
    assert (await show(admin, f"/servers/{server['id']}"))["status"] == "ACTIVE"


async def test_a_volume_being_restored_in_place_cannot_be_attached_or_deleted(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (volume_id,), checkpoint = await _volumes_protected(admin, 1)
    saved = await exported_digest(admin, volume_id, tmp_path)
    await _simulator(admin).write_volume_data(volume_id, 0, b"changed after the checkpoint")
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    server, _ = await server_with_two_volumes(admin)
    started = await admin.post("/protection/restores", json=_in_place(checkpoint))
    assert started.status_code == 202, started.text
    await writing.reached()

    assert (await show_volume(admin, volume_id))["status"] == "restoring"
    attach = await admin.post(f"/servers/{server['id']}/volumes", json={"volume_id": volume_id})
    assert assert_error(attach, 409, "conflict")["details"]["status"] == "restoring"
    assert_error(await admin.delete(f"/volumes/{volume_id}"), 409, "conflict")
    again = await admin.post("/protection/restores", json=_in_place(checkpoint))
    assert again.status_code == 202

    writing.release()
    await admin.settle()
    first = await show(admin, f"/protection/restores/{started.json()['id']}")
    second = await show(admin, f"/protection/restores/{again.json()['id']}")
    assert first["status"] == "success", first
    assert second["status"] == "fail"
    assert "is restoring" in second["resources_reason"][key("volume", volume_id)]
    assert (await show_volume(admin, volume_id))["status"] == "available"
    assert await exported_digest(admin, volume_id, tmp_path) == saved


async def test_a_restore_in_place_given_up_half_way_leaves_its_volume_in_error(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    (volume_id,), checkpoint = await _volumes_protected(admin, 1)
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    started = await admin.post("/protection/restores", json=_in_place(checkpoint))
    assert started.status_code == 202, started.text
    await writing.reached()

    await _give_up(admin, started.json()["operation_id"])
    writing.release()
    await admin.settle()

    volume = await show_volume(admin, volume_id)
    assert volume["status"] == "error"
    assert "partly old" in volume["error"]
    restore = await show(admin, f"/protection/restores/{started.json()['id']}")
    assert restore["status"] == "fail"


async def test_a_damaged_backup_is_not_written_in_place_and_the_volume_keeps_its_data(
    admin: ApiSession, tmp_path: Path
) -> None:
    (volume_id,), checkpoint = await _volumes_protected(admin, 1)
    await _simulator(admin).write_volume_data(volume_id, 0, b"changed after the checkpoint")
    current = await exported_digest(admin, volume_id, tmp_path)
    damaged = backup_store(admin.runtime.settings) / checkpoint["id"] / f"volume-{volume_id}.img"
    content = bytearray(damaged.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))

    restore = await run(admin, "/protection/restores", _in_place(checkpoint))

    assert restore["status"] == "fail"
    assert "not whole" in restore["resources_reason"][key("volume", volume_id)]
    assert (await show_volume(admin, volume_id))["status"] == "available"
    assert await exported_digest(admin, volume_id, tmp_path) == current


async def test_in_place_is_offered_by_the_backup_provider_only_and_takes_no_parameters(
    admin: ApiSession,
) -> None:
    providers = {p["name"]: p for p in (await admin.get("/protection/providers")).json()["items"]}
    assert providers["backup"]["restore_targets"] == ["new", "in_place"]
    assert providers["snapshot"]["restore_targets"] == ["new"]
    (volume_id,), backup_checkpoint = await _volumes_protected(admin, 1)
    with_parameters = await admin.post(
        "/protection/restores",
        json={**_in_place(backup_checkpoint), "parameters": {"name_prefix": "x-"}},
    )
    error = assert_error(with_parameters, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "parameters"]
    snapshot_plan = await create_plan(
        admin, [{"type": "volume", "id": volume_id}], provider_id=SNAPSHOT
    )
    snapshot_checkpoint = await checkpoint_of(admin, snapshot_plan["id"])
    refused = await admin.post("/protection/restores", json=_in_place(snapshot_checkpoint))
    assert_error(refused, 501, "not_supported")
    assert (await admin.get("/protection/restores")).json()["items"] == []
    assert (await show_volume(admin, volume_id))["status"] == "available"


async def _stopped(api: ApiSession, server_id: str) -> None:
    assert (await api.post(f"/servers/{server_id}/stop")).status_code == 202
    await api.settle()
    assert (await show(api, f"/servers/{server_id}"))["status"] == "SHUTOFF"


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_the_volumes_of_a_stopped_server_are_rewritten_in_place_and_it_starts_again(
    admin: ApiSession, tmp_path: Path
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    for index, volume_id in enumerate(volume_ids):
        await _simulator(admin).write_volume_data(volume_id, 64, f"server disk {index}".encode())
    saved = [await exported_digest(admin, v, tmp_path) for v in volume_ids]
    plan = await create_plan(admin, [{"type": "server", "id": server["id"]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    for volume_id in volume_ids:
        await _simulator(admin).write_volume_data(volume_id, 64, b"written later")
    await _stopped(admin, server["id"])

    restore = await run(admin, "/protection/restores", _in_place(checkpoint))

    assert restore["status"] == "success", restore
    assert restore["restored_resources"][key("server", server["id"])] == server["id"]
    assert [await exported_digest(admin, v, tmp_path) for v in volume_ids] == saved
    shown = await show(admin, f"/servers/{server['id']}")
    assert (shown["status"], shown["task_state"]) == ("SHUTOFF", None)
    assert {v["volume_id"] for v in shown["volumes"]} >= set(volume_ids)
    for volume_id in volume_ids:
        assert (await show_volume(admin, volume_id))["status"] == "in-use"
    assert (await admin.post(f"/servers/{server['id']}/start")).status_code == 202
    await admin.settle()
    assert (await show(admin, f"/servers/{server['id']}"))["status"] == "ACTIVE"


async def test_a_stopped_server_cannot_start_while_a_volume_of_it_is_rewritten(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    plan = await create_plan(admin, [{"type": "volume", "id": volume_ids[0]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    saved = await exported_digest(admin, volume_ids[0], tmp_path)
    await _simulator(admin).write_volume_data(volume_ids[0], 0, b"written later")
    await _stopped(admin, server["id"])
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    started = await admin.post("/protection/restores", json=_in_place(checkpoint))
    assert started.status_code == 202, started.text
    await writing.reached()

    held = await show(admin, f"/servers/{server['id']}")
    assert (held["status"], held["task_state"]) == ("SHUTOFF", "restoring_volume")
    start = await admin.post(f"/servers/{server['id']}/start")
    assert assert_error(start, 409, "conflict")["details"]["task_state"] == "restoring_volume"
    detach = await admin.delete(f"/servers/{server['id']}/volumes/{volume_ids[0]}")
    assert_error(detach, 409, "conflict")
    assert (await show_volume(admin, volume_ids[0]))["status"] == "restoring"

    writing.release()
    await admin.settle()
    restore = await show(admin, f"/protection/restores/{started.json()['id']}")
    assert restore["status"] == "success", restore
    assert await exported_digest(admin, volume_ids[0], tmp_path) == saved
    assert (await show(admin, f"/servers/{server['id']}"))["task_state"] is None
    assert (await admin.post(f"/servers/{server['id']}/start")).status_code == 202


async def _held_restore_of_a_stopped_servers_volume(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str, str, HeldCall]:
    """A stopped server, and a restore in place of its second volume held in the middle of
    writing it: the server's id, the volume's, the operation's, and the held write."""
    server, volume_ids = await server_with_two_volumes(admin)
    plan = await create_plan(admin, [{"type": "volume", "id": volume_ids[1]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    await _stopped(admin, server["id"])
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    started = await admin.post("/protection/restores", json=_in_place(checkpoint))
    assert started.status_code == 202, started.text
    await writing.reached()
    return server["id"], volume_ids[1], started.json()["operation_id"], writing


async def test_a_restore_given_up_mid_write_keeps_the_server_held_until_an_admin_resets_it(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_id, volume_id, operation_id, writing = await _held_restore_of_a_stopped_servers_volume(
        admin, monkeypatch
    )

    await _give_up(admin, operation_id)
    writing.release()
    await admin.settle()

    volume = await show_volume(admin, volume_id)
    assert (volume["status"], volume["error"]) == ("error", _PARTLY_OLD)
    held = await show(admin, f"/servers/{server_id}")
    assert (held["status"], held["task_state"]) == ("SHUTOFF", "restoring_volume")
    assert_error(await admin.post(f"/servers/{server_id}/start"), 409, "conflict")
    reset = await admin.post(f"/servers/{server_id}/reset-state", json={"status": "SHUTOFF"})
    assert reset.status_code == 200, reset.text
    assert (reset.json()["status"], reset.json()["task_state"]) == ("SHUTOFF", None)
    assert (await admin.post(f"/servers/{server_id}/start")).status_code == 202


async def test_a_server_deleted_while_its_boot_volume_is_rewritten_loses_it_afterwards(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await create_server(admin, boot_volume={"size_gb": 1})
    await admin.settle()
    (boot,) = (await show(admin, f"/servers/{server['id']}"))["volumes"]
    plan = await create_plan(admin, [{"type": "volume", "id": boot["volume_id"]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    await _stopped(admin, server["id"])
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    started = await admin.post("/protection/restores", json=_in_place(checkpoint))
    await writing.reached()

    deleted = await admin.delete(f"/servers/{server['id']}")
    assert deleted.status_code == 202
    assert (await until_finished(admin, deleted.json()["operation_id"]))["status"] == "succeeded"
    writing.release()
    await admin.settle()

    restore = await show(admin, f"/protection/restores/{started.json()['id']}")
    assert restore["status"] == "success", restore["resources_reason"]
    # The server's delete left the volume it was rewriting; the sweep deletes it after.
    assert (await show_volume(admin, boot["volume_id"]))["status"] == "in-use"
    assert await sweep_volume_attachments(admin.runtime) == 1
    await admin.settle()
    assert_error(await admin.get(f"/volumes/{boot['volume_id']}"), 404, "not_found")
