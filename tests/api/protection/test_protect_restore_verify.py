"""The data round trip on the simulator: protect a server with two volumes, restore it to new
resources whose data equals what was saved, verify it, and catch a corrupted backup file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.api.protection.protection_factories import (
    checkpoint_of,
    create_plan,
    exported_digest,
    key,
    run,
    server_with_two_volumes,
    show,
)
from tests.api.storage.storage_factories import available_volume, show_volume
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_project_member

from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.protection.providers import backup_store


async def test_a_restored_server_gets_new_volumes_holding_the_data_at_checkpoint_time(
    admin: ApiSession, tmp_path: Path
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    driver = admin.runtime.driver
    assert isinstance(driver, SimulatorDriver)
    await driver.write_volume_data(volume_ids[0], 100, b"known pattern one")
    await driver.write_volume_data(volume_ids[1], 4000, b"known pattern two")
    saved = [await exported_digest(admin, vid, tmp_path) for vid in volume_ids]
    plan = await create_plan(admin, [{"type": "server", "id": server["id"]}])

    checkpoint = await checkpoint_of(admin, plan["id"])

    assert checkpoint["status"] == "available", checkpoint
    statuses = {(r["type"], r["id"]): r["status"] for r in checkpoint["resources"]}
    assert statuses[("server", server["id"])] == "available"
    assert all(statuses[("volume", vid)] == "available" for vid in volume_ids)
    server_node = next(n for n in checkpoint["resource_graph"] if n["type"] == "server")
    assert {c["id"] for c in server_node["children"] if c["type"] == "volume"} >= set(volume_ids)
    order = [(n["type"], n["id"]) for n in checkpoint["resource_graph"]]
    assert all(
        order.index(("volume", v)) < order.index(("server", server["id"])) for v in volume_ids
    )
    store = backup_store(admin.runtime.settings) / checkpoint["id"]
    manifest = json.loads((store / "manifest.json").read_text())
    saved_server = next(r for r in manifest["resources"] if r["type"] == "server")
    assert saved_server["metadata"]["flavor_id"] == server["flavor_id"]
    for volume_id in volume_ids:
        entry = next(r for r in manifest["resources"] if r["id"] == volume_id)
        content = (store / entry["saved"]["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["saved"]["sha256"]

    # Writes after the checkpoint must not reach the restore.
    await driver.write_volume_data(volume_ids[0], 100, b"OVERWRITTEN LATER")
    assert await exported_digest(admin, volume_ids[0], tmp_path) != saved[0]
    restore = await run(admin, "/protection/restores", {"checkpoint_id": checkpoint["id"]})

    assert restore["status"] == "success", restore
    assert set(restore["resources_status"].values()) == {"success"}
    restored_server_id = restore["restored_resources"][key("server", server["id"])]
    restored_volume_ids = [restore["restored_resources"][key("volume", v)] for v in volume_ids]
    assert restored_server_id != server["id"]
    assert not set(restored_volume_ids) & set(volume_ids)
    for original_digest, restored_id in zip(saved, restored_volume_ids, strict=True):
        assert await exported_digest(admin, restored_id, tmp_path) == original_digest
    rebuilt = await show(admin, f"/servers/{restored_server_id}")
    assert rebuilt["status"] == "ACTIVE"
    assert rebuilt["flavor_id"] == server["flavor_id"]
    attached = {(v["volume_id"], v["device"]) for v in rebuilt["volumes"]}
    assert attached >= {(restored_volume_ids[0], "vdb"), (restored_volume_ids[1], "vdc")}
    for restored_id in restored_volume_ids:
        assert (await show_volume(admin, restored_id))["status"] == "in-use"
    original_networks = {a["network_id"] for a in server["addresses"]}
    assert {a["network_id"] for a in rebuilt["addresses"]} == original_networks

    verification = await run(
        admin, "/protection/verifications", {"checkpoint_id": checkpoint["id"]}
    )
    assert verification["status"] == "success", verification
    assert verification["resources_status"][key("volume", volume_ids[0])] == "success"


async def test_a_corrupted_backup_file_fails_verification_for_that_volume_only(
    admin: ApiSession,
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    plan = await create_plan(admin, [{"type": "server", "id": server["id"]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    store = backup_store(admin.runtime.settings) / checkpoint["id"]
    damaged = store / f"volume-{volume_ids[1]}.img"
    content = bytearray(damaged.read_bytes())
    content[-1] ^= 0xFF
    damaged.write_bytes(bytes(content))

    verification = await run(
        admin, "/protection/verifications", {"checkpoint_id": checkpoint["id"]}
    )

    assert verification["status"] == "fail"
    failed = {k for k, v in verification["resources_status"].items() if v == "fail"}
    assert failed == {key("volume", volume_ids[1])}
    assert "checksum" in verification["resources_reason"][key("volume", volume_ids[1])]
    logs = await show(admin, f"/protection/operation-logs?checkpoint_id={checkpoint['id']}")
    kinds = {(entry["operation_type"], entry["status"]) for entry in logs["items"]}
    assert ("protect", "success") in kinds
    assert ("verify", "fail") in kinds

    restore = await run(admin, "/protection/restores", {"checkpoint_id": checkpoint["id"]})
    assert restore["status"] == "fail"
    assert restore["resources_status"][key("volume", volume_ids[1])] == "fail"
    assert restore["resources_status"][key("volume", volume_ids[0])] == "success"


async def test_protecting_a_project_covers_its_servers_and_volumes_and_restores_them(
    admin: ApiSession, tmp_path: Path
) -> None:
    member = await new_project_member(admin)
    server, volume_ids = await server_with_two_volumes(member)
    loose = await available_volume(member)
    plan = await create_plan(member, [{"type": "project", "id": member.project_id}])

    checkpoint = await checkpoint_of(member, plan["id"])

    assert checkpoint["status"] == "available", checkpoint
    protected = {(r["type"], r["id"]) for r in checkpoint["resources"]}
    assert {("server", server["id"]), ("volume", loose["id"]), ("project", member.project_id)} | {
        ("volume", v) for v in volume_ids
    } <= protected
    assert [n["type"] for n in checkpoint["resource_graph"]][-1] == "project"
    restore = await run(member, "/protection/restores", {"checkpoint_id": checkpoint["id"]})
    assert restore["status"] == "success", restore
    restored_loose = restore["restored_resources"][key("volume", loose["id"])]
    assert await exported_digest(member, restored_loose, tmp_path) == await exported_digest(
        member, loose["id"], tmp_path
    )


async def test_a_volume_lost_by_the_backend_fails_its_resource_and_the_checkpoint_only(
    admin: ApiSession,
) -> None:
    kept, lost = await available_volume(admin), await available_volume(admin)
    plan = await create_plan(
        admin, [{"type": "volume", "id": kept["id"]}, {"type": "volume", "id": lost["id"]}]
    )
    await admin.runtime.driver.delete_volume(lost["id"])  # drift: the backend lost it

    checkpoint = await checkpoint_of(admin, plan["id"])

    assert checkpoint["status"] == "error"
    by_id = {r["id"]: r for r in checkpoint["resources"]}
    assert by_id[kept["id"]]["status"] == "available"
    assert by_id[lost["id"]]["status"] == "error"
    assert lost["id"] in by_id[lost["id"]]["reason"]
    assert lost["id"] in checkpoint["error"]
    refused = await admin.post(
        "/protection/verifications", json={"checkpoint_id": checkpoint["id"]}
    )
    assert_error(refused, 409, "conflict")
    logs = await show(admin, f"/protection/operation-logs?checkpoint_id={checkpoint['id']}")
    assert [(e["operation_type"], e["status"]) for e in logs["items"]] == [("protect", "fail")]
    store = backup_store(admin.runtime.settings) / checkpoint["id"]
    assert (store / f"volume-{kept['id']}.img").is_file()

    deleted = await admin.delete(f"/protection/checkpoints/{checkpoint['id']}")
    await admin.settle()

    assert deleted.status_code == 202
    assert not store.exists()
