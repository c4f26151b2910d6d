"""Servers and volumes together: boot volumes, server bodies' volumes, release and the sweep.

Compute wires these functions into its own create and delete; here they are called the way
compute will call them, around servers made through the API.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    expect_volume_status,
    show_volume,
    snapshot_of,
)
from tests.support.api import ApiSession, assert_error
from tests.support.factories import active_server, catalogue_ids, new_project_member

from cloudplane.compute.models import Server
from cloudplane.drivers.storage_contract import BlockDeviceSpec
from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal
from cloudplane.images.models import Image
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.errors import NotFound, ValidationFailed
from cloudplane.runtime import Runtime
from cloudplane.storage.attachment_sweep import sweep_volume_attachments
from cloudplane.storage.schemas import BootVolumeExisting, BootVolumeNew, BootVolumeRequest
from cloudplane.storage.server_volume_lifecycle import (
    build_planned_volumes,
    finish_server_volumes,
    plan_server_volumes,
    release_server_volumes,
)
from cloudplane.storage.server_volumes import reserve_boot_volume, server_volumes


async def prepare_server_volumes(runtime: Runtime, server_id: str) -> tuple[BlockDeviceSpec, ...]:
    """What a server's create does for its volumes before the backend builds it: read the
    plan in the build's transaction, then build the planned volumes."""
    async with unit_of_work(runtime.sessions) as session:
        plan = await plan_server_volumes(session, runtime, server_id)
    return await build_planned_volumes(runtime, plan)


def principal_of(api: ApiSession) -> Principal:
    return Principal(
        user_id=api.user_id,
        username="test",
        project_id=api.project_id,
        roles=frozenset({Role.MEMBER}),
    )


async def reserve(api: ApiSession, server_id: str, request: BootVolumeRequest) -> str:
    """``reserve_boot_volume`` in its own transaction, with the seeded image."""
    _, image_id = await catalogue_ids(api)
    async with unit_of_work(api.runtime.sessions, write=True) as session:
        image = await session.get(Image, image_id)
        volume = await reserve_boot_volume(
            session, api.runtime, principal_of(api), server_id, request, image
        )
        return volume.id


async def entries_of(api: ApiSession, server_id: str) -> list[Any]:
    async with unit_of_work(api.runtime.sessions) as session:
        return list((await server_volumes(session, [server_id]))[server_id])


async def mark_server_deleted(api: ApiSession, server_id: str) -> None:
    """Soft-delete the server row only, leaving its volumes behind: the leak the sweep finds."""
    async with unit_of_work(api.runtime.sessions, write=True) as session:
        server = await session.get(Server, server_id)
        assert server is not None
        server.status = "DELETED"
        server.mark_deleted(server.id)


async def test_a_new_boot_volume_is_built_attached_as_vda_and_cannot_be_detached(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    volume_id = await reserve(admin, server["id"], BootVolumeNew(size_gb=1))
    reserved = await expect_volume_status(admin, volume_id, "creating")
    assert (reserved["bootable"], reserved["delete_on_termination"]) == (True, True)
    assert await entries_of(admin, server["id"]) == [
        {"volume_id": volume_id, "device": "vda", "boot": True}
    ]

    devices = await prepare_server_volumes(admin.runtime, server["id"])
    assert [(d.volume_id, d.device, d.boot) for d in devices] == [(volume_id, "vda", True)]
    await expect_volume_status(admin, volume_id, "attaching")
    await finish_server_volumes(admin.runtime, server["id"], built=True)
    in_use = await expect_volume_status(admin, volume_id, "in-use")
    assert in_use["attachments"] == [{"server_id": server["id"], "device": "vda"}]
    backend = await admin.runtime.driver.get_volume(volume_id)
    assert backend.attachment is not None
    assert backend.attachment.device == "vda"

    detach = await admin.delete(f"/servers/{server['id']}/volumes/{volume_id}")
    assert_error(detach, 409, "conflict")
    assert_error(await admin.delete(f"/volumes/{volume_id}"), 409, "conflict")


async def test_an_existing_bootable_volume_is_reserved_and_given_back_on_failure(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    _, image_id = await catalogue_ids(admin)
    volume = await available_volume(admin, 1, image_id=image_id)
    volume_id = await reserve(admin, server["id"], BootVolumeExisting(volume_id=volume["id"]))
    assert volume_id == volume["id"]
    attaching = await expect_volume_status(admin, volume_id, "attaching")
    assert attaching["delete_on_termination"] is False
    await finish_server_volumes(admin.runtime, server["id"], built=False)
    assert (await expect_volume_status(admin, volume_id, "available"))["attachments"] == []


async def test_a_boot_volume_must_be_bootable_available_and_in_the_project(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    blank = await available_volume(admin)
    with pytest.raises(ValidationFailed, match="not bootable"):
        await reserve(admin, server["id"], BootVolumeExisting(volume_id=blank["id"]))
    stranger = await new_project_member(admin)
    _, image_id = await catalogue_ids(stranger)
    theirs = await available_volume(stranger, 1, image_id=image_id)
    with pytest.raises(NotFound):
        await reserve(admin, server["id"], BootVolumeExisting(volume_id=theirs["id"]))
    await expect_volume_status(stranger, theirs["id"], "available")


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_deleting_a_server_deletes_its_boot_volume_and_detaches_the_others(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    boot_id = await reserve(admin, server["id"], BootVolumeNew(size_gb=1))
    await prepare_server_volumes(admin.runtime, server["id"])
    await finish_server_volumes(admin.runtime, server["id"], built=True)
    data = await available_volume(admin)
    await attach(admin, server["id"], data["id"])
    await admin.settle()

    async with unit_of_work(admin.runtime.sessions, write=True) as session:
        released = await release_server_volumes(session, admin.runtime, server["id"])
    assert sorted(released) == sorted([boot_id, data["id"]])
    await admin.settle()
    assert_error(await admin.get(f"/volumes/{boot_id}"), 404, "not_found")
    assert (await expect_volume_status(admin, data["id"], "available"))["attachments"] == []
    assert (await admin.get("/volumes")).json()["items"][0]["id"] == data["id"]


async def test_a_boot_volume_with_snapshots_is_kept_and_detached_when_its_server_goes(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    boot_id = await reserve(admin, server["id"], BootVolumeNew(size_gb=1))
    await prepare_server_volumes(admin.runtime, server["id"])
    await finish_server_volumes(admin.runtime, server["id"], built=True)
    await snapshot_of(admin, boot_id)
    async with unit_of_work(admin.runtime.sessions, write=True) as session:
        await release_server_volumes(session, admin.runtime, server["id"])
    await admin.settle()
    kept = await expect_volume_status(admin, boot_id, "available")
    assert (kept["attachments"], kept["delete_on_termination"]) == ([], False)


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_the_sweep_repairs_volumes_left_attached_to_a_deleted_server(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    boot_id = await reserve(admin, server["id"], BootVolumeNew(size_gb=1))
    await prepare_server_volumes(admin.runtime, server["id"])
    await finish_server_volumes(admin.runtime, server["id"], built=True)
    data = await available_volume(admin)
    await attach(admin, server["id"], data["id"])
    await admin.settle()
    await mark_server_deleted(admin, server["id"])  # as if the process died before releasing

    assert await sweep_volume_attachments(admin.runtime) == 2
    await admin.settle()
    assert await sweep_volume_attachments(admin.runtime) == 0
    assert_error(await admin.get(f"/volumes/{boot_id}"), 404, "not_found")
    assert (await show_volume(admin, data["id"]))["attachments"] == []
    events = (await admin.get("/audit-events", params={"limit": 1000})).json()["items"]
    sweeps = {
        (e["resource_id"], e["action"]): (e["user_id"], e["request_id"])
        for e in events
        if e["action"].startswith("sweep.")
    }
    assert sweeps == {
        (boot_id, "sweep.delete"): (None, "sweeper"),
        (data["id"], "sweep.detach"): (None, "sweeper"),
    }


async def test_deleting_a_server_through_the_api_releases_its_volumes(admin: ApiSession) -> None:
    server = await active_server(admin)
    data = await available_volume(admin)
    await attach(admin, server["id"], data["id"])
    await admin.settle()
    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert (await expect_volume_status(admin, data["id"], "available"))["attachments"] == []
    assert await sweep_volume_attachments(admin.runtime) == 0
