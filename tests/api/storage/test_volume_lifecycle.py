"""A volume's life through the API: create, attach, extend, snapshot, detach, copy, delete."""

from __future__ import annotations

import pytest
from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    create_volume,
    expect_volume_status,
    show_volume,
    snapshot_of,
)
from tests.support.api import ApiSession, worker_held
from tests.support.factories import active_server, catalogue_ids


async def test_a_new_volume_goes_from_creating_to_available_with_an_operation(
    admin: ApiSession,
) -> None:
    volume = await create_volume(admin, 2, name="data-1", description="scratch space")
    assert volume["status"] == "creating"
    assert volume["volume_type"] == "standard"
    assert volume["operation_id"]
    await admin.settle()
    shown = await show_volume(admin, volume["id"])
    assert shown["status"] == "available"
    assert (shown["name"], shown["size_gb"], shown["bootable"]) == ("data-1", 2, False)
    assert shown["attachments"] == []
    operation = (await admin.get(f"/operations/{volume['operation_id']}")).json()
    assert (operation["status"], operation["resource_type"]) == ("succeeded", "volume")


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_the_whole_flow_a_new_user_would_follow(admin: ApiSession) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin, 1)

    attached = await attach(admin, server["id"], volume["id"])
    assert attached["device"] == "vdb"
    assert attached["volume"]["status"] == "attaching"
    await admin.settle()
    in_use = await expect_volume_status(admin, volume["id"], "in-use")
    assert in_use["attachments"] == [{"server_id": server["id"], "device": "vdb"}]

    extend = await admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 3})
    assert extend.status_code == 202, extend.text
    assert extend.json()["status"] == "extending"
    await admin.settle()
    extended = await expect_volume_status(admin, volume["id"], "in-use")
    assert extended["size_gb"] == 3

    snapshot = await snapshot_of(admin, volume["id"], name="before-detach")
    assert (snapshot["size_gb"], snapshot["volume_id"]) == (3, volume["id"])

    detach = await admin.delete(f"/servers/{server['id']}/volumes/{volume['id']}")
    assert detach.status_code == 202, detach.text
    assert detach.json()["volume"]["status"] == "detaching"
    await admin.settle()
    assert (await expect_volume_status(admin, volume["id"], "available"))["attachments"] == []

    copy = await create_volume(admin, 4, snapshot_id=snapshot["id"])
    await admin.settle()
    copied = await expect_volume_status(admin, copy["id"], "available")
    assert (copied["snapshot_id"], copied["size_gb"]) == (snapshot["id"], 4)

    for path in (f"/volumes/{copy['id']}", f"/snapshots/{snapshot['id']}"):
        assert (await admin.delete(path)).status_code == 202
    await admin.settle()
    assert (await admin.delete(f"/volumes/{volume['id']}")).status_code == 202
    await admin.settle()
    for path in (
        f"/volumes/{volume['id']}",
        f"/volumes/{copy['id']}",
        f"/snapshots/{snapshot['id']}",
    ):
        assert (await admin.get(path)).status_code == 404
    deleted = (await admin.get(f"/volumes/{volume['id']}", params={"deleted": "true"})).json()
    assert (deleted["status"], deleted["deleted_at"] is not None) == ("deleted", True)


async def test_a_volume_from_an_image_is_bootable_and_names_the_image(admin: ApiSession) -> None:
    _, image_id = await catalogue_ids(admin)
    volume = await available_volume(admin, 1, image_id=image_id)
    assert (volume["bootable"], volume["image_id"]) == (True, image_id)


async def test_an_extend_of_an_available_volume_returns_it_to_available(
    admin: ApiSession,
) -> None:
    volume = await available_volume(admin, 1)
    async with worker_held(admin.runtime):
        response = await admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 2})
        assert response.json()["status"] == "extending"
    await admin.settle()
    assert (await expect_volume_status(admin, volume["id"], "available"))["size_gb"] == 2


async def test_a_volume_is_renamed_and_described_in_any_state(admin: ApiSession) -> None:
    async with worker_held(admin.runtime):
        volume = await create_volume(admin)
        response = await admin.patch(
            f"/volumes/{volume['id']}", json={"name": "renamed", "description": "new words"}
        )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("renamed", "new words")
    await admin.settle()


async def test_a_snapshot_is_renamed_listed_and_filtered_by_volume(admin: ApiSession) -> None:
    volume = await available_volume(admin)
    other = await available_volume(admin)
    snapshot = await snapshot_of(admin, volume["id"])
    await snapshot_of(admin, other["id"])
    renamed = await admin.patch(f"/snapshots/{snapshot['id']}", json={"name": "nightly"})
    assert renamed.json()["name"] == "nightly"
    listed = (await admin.get("/snapshots", params={"volume_id": volume["id"]})).json()["items"]
    assert [s["id"] for s in listed] == [snapshot["id"]]


async def test_creating_the_same_volume_twice_with_a_key_creates_one(admin: ApiSession) -> None:
    headers = {"Idempotency-Key": "volume-once"}
    body = {"name": "once", "size_gb": 1}
    first = await admin.post("/volumes", json=body, headers=headers)
    second = await admin.post("/volumes", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    await admin.settle()
    assert len((await admin.get("/volumes", params={"name": "once"})).json()["items"]) == 1
