"""Volumes made through the API are Cinder volumes, attached through Nova."""

from __future__ import annotations

from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    expect_volume_status,
    snapshot_of,
)
from tests.openstack_cloud.state import Cloud
from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.storage.reconciler import VANISHED, reconcile_volumes


async def test_a_volume_is_made_attached_and_snapshotted_in_cinder(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)
    volume = await available_volume(admin, size_gb=2)

    await attach(admin, server["id"], volume["id"])
    await admin.settle()
    in_use = await expect_volume_status(admin, volume["id"], "in-use")
    snapshot = await snapshot_of(admin, volume["id"])

    cinder = next(v for v in cloud.volumes.values() if v["name"] == f"cloudplane-{volume['id']}")
    nova_id = next(
        s["id"] for s in cloud.servers.values() if s["metadata"]["cloudplane_id"] == server["id"]
    )
    assert (cinder["size"], cinder["status"]) == (2, "in-use")
    assert [a["server_id"] for a in cinder["attachments"]] == [nova_id]
    assert in_use["attachments"][0]["server_id"] == server["id"]
    assert [s["size"] for s in cloud.snapshots.values() if s["volume_id"] == cinder["id"]] == [2]
    assert snapshot["size_gb"] == 2


async def test_a_volume_deleted_in_cinder_shows_error_after_a_reconcile_round(
    admin: ApiSession, cloud: Cloud
) -> None:
    gone = await available_volume(admin)
    kept = await available_volume(admin)
    cloud.delete_volume_behind_the_back(f"cloudplane-{gone['id']}")

    assert await reconcile_volumes(admin.runtime) == 1

    assert (await expect_volume_status(admin, gone["id"], "error"))["error"] == VANISHED
    await expect_volume_status(admin, kept["id"], "available")
