"""Every block-storage error path of API.md answers with its code and details."""

from __future__ import annotations

from pathlib import Path

from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    create_volume,
    pool_with_type,
    snapshot_of,
)
from tests.support.api import ApiSession, assert_error, worker_held
from tests.support.factories import (
    active_server,
    catalogue_ids,
    create_server,
    new_project_member,
    set_quota,
)


async def test_deleting_an_attached_volume_is_a_conflict(admin: ApiSession) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin)
    await attach(admin, server["id"], volume["id"])
    await admin.settle()
    error = assert_error(await admin.delete(f"/volumes/{volume['id']}"), 409, "conflict")
    assert error["details"]["status"] == "in-use"
    assert error["details"]["server_id"] == server["id"]


async def test_deleting_a_volume_with_snapshots_is_a_conflict(admin: ApiSession) -> None:
    volume = await available_volume(admin)
    await snapshot_of(admin, volume["id"])
    error = assert_error(await admin.delete(f"/volumes/{volume['id']}"), 409, "conflict")
    assert error["details"]["snapshots"] == 1


async def test_extending_to_a_smaller_or_equal_size_is_refused(admin: ApiSession) -> None:
    volume = await available_volume(admin, 2)
    for size in (1, 2):
        response = await admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": size})
        assert assert_error(response, 422, "validation_error")["details"]["size_gb"] == 2
    zero = await admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 0})
    assert_error(zero, 422, "validation_error")


async def test_an_action_on_a_volume_in_a_transitional_state_is_a_conflict(
    admin: ApiSession,
) -> None:
    async with worker_held(admin.runtime):
        volume = await create_volume(admin)
        for method, path, body in (
            ("POST", f"/volumes/{volume['id']}/extend", {"size_gb": 5}),
            ("DELETE", f"/volumes/{volume['id']}", None),
            ("POST", "/snapshots", {"volume_id": volume["id"], "name": "too-early"}),
        ):
            error = assert_error(await admin.request(method, path, json=body), 409, "conflict")
            assert error["details"]["status"] == "creating"
    await admin.settle()


async def test_the_volume_quota_counts_volumes_and_gigabytes(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, volumes=2, volume_gb=5)
    await create_volume(member, 2)
    error = assert_error(
        await member.post("/volumes", json={"name": "big", "size_gb": 4}), 409, "quota_exceeded"
    )
    assert error["details"] == {"resource": "volume_gb", "limit": 5, "in_use": 2, "requested": 4}
    await create_volume(member, 3)
    error = assert_error(
        await member.post("/volumes", json={"name": "third", "size_gb": 1}), 409, "quota_exceeded"
    )
    assert error["details"]["resource"] == "volumes"
    await member.settle()
    quotas = (await admin.get(f"/projects/{member.project_id}/quotas")).json()
    assert (quotas["in_use"]["volumes"], quotas["in_use"]["volume_gb"]) == (2, 5)


async def test_extending_past_the_gigabyte_quota_is_refused(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, volume_gb=3)
    volume = await available_volume(member, 2)
    response = await member.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 4})
    assert assert_error(response, 409, "quota_exceeded")["details"]["requested"] == 2


async def test_the_snapshot_quota_is_enforced(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, snapshots=1)
    volume = await available_volume(member)
    await snapshot_of(member, volume["id"])
    response = await member.post("/snapshots", json={"volume_id": volume["id"], "name": "two"})
    assert assert_error(response, 409, "quota_exceeded")["details"]["resource"] == "snapshots"


async def test_a_full_pool_refuses_a_volume_before_anything_is_stored(
    admin: ApiSession, tmp_path: Path
) -> None:
    _, volume_type = await pool_with_type(admin, tmp_path / "small", capacity_gb=3)
    await create_volume(admin, 2, volume_type=volume_type["name"])
    response = await admin.post(
        "/volumes", json={"name": "overflow", "size_gb": 2, "volume_type": volume_type["id"]}
    )
    details = assert_error(response, 409, "conflict")["details"]
    assert (details["available_gb"], details["requested_gb"], details["status"]) == (1, 2, "full")
    assert (await admin.get("/volumes", params={"name": "overflow"})).json()["items"] == []


async def test_a_taken_name_is_a_conflict(admin: ApiSession) -> None:
    await create_volume(admin, name="twin")
    response = await admin.post("/volumes", json={"name": "twin", "size_gb": 1})
    assert_error(response, 409, "conflict")
    await admin.settle()


async def test_an_unknown_volume_type_is_a_validation_error(admin: ApiSession) -> None:
    response = await admin.post(
        "/volumes", json={"name": "typed", "size_gb": 1, "volume_type": "no-such-type"}
    )
    assert_error(response, 422, "validation_error")


async def test_a_volume_too_small_for_its_image_is_a_validation_error(admin: ApiSession) -> None:
    _, image_id = await catalogue_ids(admin)
    assert (await admin.patch(f"/images/{image_id}", json={"min_disk_gb": 3})).status_code == 200
    response = await admin.post(
        "/volumes", json={"name": "small", "size_gb": 2, "image_id": image_id}
    )
    assert assert_error(response, 422, "validation_error")["details"]["minimum_gb"] == 3


async def test_a_volume_smaller_than_its_snapshot_is_a_validation_error(admin: ApiSession) -> None:
    volume = await available_volume(admin, 3)
    snapshot = await snapshot_of(admin, volume["id"])
    response = await admin.post(
        "/volumes", json={"name": "copy", "size_gb": 2, "snapshot_id": snapshot["id"]}
    )
    assert assert_error(response, 422, "validation_error")["details"]["minimum_gb"] == 3


async def test_an_image_and_a_snapshot_together_are_a_validation_error(admin: ApiSession) -> None:
    _, image_id = await catalogue_ids(admin)
    response = await admin.post(
        "/volumes",
        json={"name": "both", "size_gb": 1, "image_id": image_id, "snapshot_id": "x"},
    )
    assert_error(response, 422, "validation_error")


async def test_an_unknown_image_or_snapshot_source_is_not_found(admin: ApiSession) -> None:
    for source in ({"image_id": "missing"}, {"snapshot_id": "missing"}):
        response = await admin.post("/volumes", json={"name": "src", "size_gb": 1, **source})
        assert_error(response, 404, "not_found")


async def test_attaching_an_attached_volume_is_a_conflict(admin: ApiSession) -> None:
    first, second = await active_server(admin), await active_server(admin)
    volume = await available_volume(admin)
    await attach(admin, first["id"], volume["id"])
    await admin.settle()
    response = await admin.post(
        f"/servers/{second['id']}/volumes", json={"volume_id": volume["id"]}
    )
    assert assert_error(response, 409, "conflict")["details"]["status"] == "in-use"


async def test_a_requested_device_that_is_taken_is_a_conflict(admin: ApiSession) -> None:
    server = await active_server(admin)
    first, second = await available_volume(admin), await available_volume(admin)
    await attach(admin, server["id"], first["id"], device="vdc")
    response = await admin.post(
        f"/servers/{server['id']}/volumes", json={"volume_id": second["id"], "device": "vdc"}
    )
    assert_error(response, 409, "conflict")
    assert (await attach(admin, server["id"], second["id"]))["device"] == "vdb"
    await admin.settle()


async def test_attaching_to_a_server_that_is_still_building_is_a_conflict(
    admin: ApiSession,
) -> None:
    volume = await available_volume(admin)
    async with worker_held(admin.runtime):
        server = await create_server(admin)
        response = await admin.post(
            f"/servers/{server['id']}/volumes", json={"volume_id": volume["id"]}
        )
    assert assert_error(response, 409, "conflict")["details"]["status"] == "BUILD"
    await admin.settle()


async def test_detaching_a_volume_that_is_not_attached_there_is_not_found(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin)
    response = await admin.delete(f"/servers/{server['id']}/volumes/{volume['id']}")
    assert_error(response, 404, "not_found")


async def test_an_unknown_marker_is_a_bad_request(admin: ApiSession) -> None:
    for path in ("/volumes", "/snapshots", "/volume-types", "/storage-pools"):
        response = await admin.get(path, params={"marker": "not-in-this-list"})
        assert_error(response, 400, "bad_request")
