"""Storage pools (dir and nfs) and volume types: admin-only writes, figures kept true."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tests.api.storage.storage_factories import (
    available_volume,
    create_pool,
    create_volume,
    create_volume_type,
    pool_with_type,
    show_pool,
    unique,
)
from tests.support.api import ApiSession, assert_error
from tests.support.databases import in_ci
from tests.support.factories import new_project_member

from cloudplane.runtime import Runtime
from cloudplane.storage.pool_service import nfs_mounter


async def test_the_seeded_default_pool_lives_under_the_data_dir(
    admin: ApiSession, runtime: Runtime
) -> None:
    pools = (await admin.get("/storage-pools", params={"name": "default"})).json()["items"]
    assert len(pools) == 1
    pool = pools[0]
    assert pool["path"] == str((runtime.settings.data_dir / "volumes").resolve())
    assert (pool["kind"], pool["status"]) == ("dir", "active")
    assert pool["capacity_gb"] > 0
    types = (await admin.get("/volume-types", params={"is_default": "true"})).json()["items"]
    assert [(t["name"], t["storage_pool_id"]) for t in types] == [("standard", pool["id"])]


async def test_allocated_and_available_follow_the_live_volumes(
    admin: ApiSession, tmp_path: Path
) -> None:
    pool, volume_type = await pool_with_type(admin, tmp_path / "pool", capacity_gb=10)
    assert (tmp_path / "pool").is_dir()
    assert (pool["capacity_gb"], pool["allocated_gb"], pool["available_gb"]) == (10, 0, 10)
    first = await available_volume(admin, 3, volume_type=volume_type["name"])
    await available_volume(admin, 2, volume_type=volume_type["id"])
    shown = await show_pool(admin, pool["id"])
    assert (shown["allocated_gb"], shown["available_gb"]) == (5, 5)
    assert (await admin.post(f"/volumes/{first['id']}/extend", json={"size_gb": 4})).is_success
    assert (await show_pool(admin, pool["id"]))["allocated_gb"] == 6  # counted from the request
    await admin.settle()
    assert (await admin.delete(f"/volumes/{first['id']}")).status_code == 202
    await admin.settle()
    shown = await show_pool(admin, pool["id"])
    assert (shown["allocated_gb"], shown["available_gb"]) == (2, 8)


async def test_capacity_can_be_set_and_returned_to_the_file_system_size(
    admin: ApiSession, tmp_path: Path
) -> None:
    pool = await create_pool(admin, tmp_path / "sized")
    measured = pool["capacity_gb"]
    stats = os.statvfs(tmp_path)
    assert measured == stats.f_blocks * stats.f_frsize // 2**30
    explicit = await admin.patch(f"/storage-pools/{pool['id']}", json={"capacity_gb": 7})
    assert explicit.json()["capacity_gb"] == 7
    back = await admin.patch(f"/storage-pools/{pool['id']}", json={"capacity_gb": None})
    assert back.json()["capacity_gb"] == measured


async def test_a_pool_in_use_cannot_be_deleted_and_an_empty_one_can(
    admin: ApiSession, tmp_path: Path
) -> None:
    pool, volume_type = await pool_with_type(admin, tmp_path / "busy", capacity_gb=5)
    volume = await available_volume(admin, 1, volume_type=volume_type["id"])
    error = assert_error(await admin.delete(f"/storage-pools/{pool['id']}"), 409, "conflict")
    assert error["details"]["in_use_by"] == {"volumes": 1, "volume_types": 1}
    await admin.delete(f"/volumes/{volume['id']}")
    await admin.settle()
    assert (await admin.delete(f"/volume-types/{volume_type['id']}")).status_code == 204
    assert (await admin.delete(f"/storage-pools/{pool['id']}")).status_code == 204
    assert_error(await admin.get(f"/storage-pools/{pool['id']}"), 404, "not_found")
    deleted = await admin.get(f"/storage-pools/{pool['id']}", params={"deleted": "true"})
    assert deleted.json()["deleted_at"] is not None


async def test_pool_names_and_paths_are_unique(admin: ApiSession, tmp_path: Path) -> None:
    pool = await create_pool(admin, tmp_path / "one")
    same_name = {"name": pool["name"], "kind": "dir", "path": str(tmp_path / "two")}
    same_path = {"name": unique("pool"), "kind": "dir", "path": str(tmp_path / "one")}
    for body in (same_name, same_path):
        assert_error(await admin.post("/storage-pools", json=body), 409, "conflict")


async def test_a_dir_pool_path_that_is_a_file_is_a_validation_error(
    admin: ApiSession, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a directory")
    body = {"name": "file-pool", "kind": "dir", "path": str(tmp_path / "file")}
    assert_error(await admin.post("/storage-pools", json=body), 422, "validation_error")


async def test_storage_pools_are_for_admins_only(admin: ApiSession, tmp_path: Path) -> None:
    member = await new_project_member(admin)
    assert_error(await member.get("/storage-pools"), 403, "forbidden")
    body = {"name": "mine", "kind": "dir", "path": str(tmp_path / "mine")}
    assert_error(await member.post("/storage-pools", json=body), 403, "forbidden")


@pytest.mark.skipif(
    not os.path.ismount("/dev/shm") and not in_ci(),
    reason="/dev/shm is not a mount point here (in CI the test runs and fails instead)",
)
async def test_an_nfs_pool_on_an_already_mounted_path_is_active(admin: ApiSession) -> None:
    body = {"name": "mounted", "kind": "nfs", "path": "/dev/shm", "capacity_gb": 2}
    response = await admin.post("/storage-pools", json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["export"]) == ("active", None)
    assert (await admin.delete(f"/storage-pools/{response.json()['id']}")).status_code == 204
    # A mount cloudplane did not make is left alone.
    assert await asyncio.to_thread(os.path.ismount, "/dev/shm")


async def test_an_nfs_pool_path_that_is_not_mounted_is_a_validation_error(
    admin: ApiSession, tmp_path: Path
) -> None:
    body = {"name": "not-mounted", "kind": "nfs", "path": str(tmp_path)}
    assert_error(await admin.post("/storage-pools", json=body), 422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "nfs", "export": "no-colon-here"},
        {"kind": "nfs", "export": "server:relative/path"},
        {"kind": "nfs", "export": "-o evil:/x"},
        {"kind": "nfs", "export": "nas:/export", "path": "/mnt/also"},
        {"kind": "nfs"},
        {"kind": "dir", "export": "nas:/export"},
        {"kind": "dir", "path": "relative"},
    ],
)
async def test_malformed_pool_locations_are_validation_errors(
    admin: ApiSession, body: dict[str, str]
) -> None:
    response = await admin.post("/storage-pools", json={"name": "bad", **body})
    assert_error(response, 422, "validation_error")


async def test_an_nfs_export_on_a_host_without_an_nfs_client_is_not_supported(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nfs_mounter, "helper", "no-such-mount-helper")
    body = {"name": "nas", "kind": "nfs", "export": "nas.example:/export/volumes"}
    assert_error(await admin.post("/storage-pools", json=body), 501, "not_supported")
    assert (await admin.get("/storage-pools", params={"name": "nas"})).json()["items"] == []


async def test_a_failed_nfs_mount_is_a_validation_error_and_stores_nothing(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nfs_mounter, "helper", "sh")
    failing = ("sh", "-c", 'echo "mount.nfs: Connection refused" >&2; exit 32', "mount")
    monkeypatch.setattr(nfs_mounter, "mount_command", failing)
    body = {"name": "nas", "kind": "nfs", "export": "10.0.0.9:/export"}
    error = assert_error(await admin.post("/storage-pools", json=body), 422, "validation_error")
    assert "Connection refused" in error["message"]
    assert (await admin.get("/storage-pools", params={"name": "nas"})).json()["items"] == []


async def test_an_nfs_export_is_mounted_under_the_data_dir_and_unmounted_on_delete(
    admin: ApiSession, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls.log"
    recorder = ("sh", "-c", f'echo "$0 $*" >> {calls}')
    monkeypatch.setattr(nfs_mounter, "helper", "sh")
    monkeypatch.setattr(nfs_mounter, "mount_command", (*recorder, "mount"))
    monkeypatch.setattr(nfs_mounter, "unmount_command", (*recorder, "umount"))
    body = {"name": "nas", "kind": "nfs", "export": "[fd00::9]:/export", "capacity_gb": 4}
    response = await admin.post("/storage-pools", json=body)
    assert response.status_code == 201, response.text
    pool = response.json()
    mountpoint = (runtime.settings.data_dir / "storage-pools" / pool["id"]).resolve()
    assert (pool["path"], pool["export"]) == (str(mountpoint), "[fd00::9]:/export")
    assert pool["status"] == "unavailable"  # the stand-in did not really mount anything
    assert (await admin.delete(f"/storage-pools/{pool['id']}")).status_code == 204
    assert calls.read_text().splitlines() == [
        f"mount [fd00::9]:/export {mountpoint}",
        f"umount {mountpoint}",
    ]
    assert not mountpoint.exists()


async def test_everyone_lists_volume_types_but_only_admins_change_them(
    admin: ApiSession, tmp_path: Path
) -> None:
    member = await new_project_member(admin)
    names = [t["name"] for t in (await member.get("/volume-types")).json()["items"]]
    assert "standard" in names
    pool = await create_pool(admin, tmp_path / "types")
    body = {"name": "fast", "storage_pool_id": pool["id"]}
    assert_error(await member.post("/volume-types", json=body), 403, "forbidden")
    volume_type = await create_volume_type(admin, pool["id"], name="fast")
    assert volume_type["is_default"] is False
    for method, body_or_none in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await member.request(
            method, f"/volume-types/{volume_type['id']}", json=body_or_none
        )
        assert_error(response, 403, "forbidden")


async def test_making_a_type_the_default_moves_the_flag(admin: ApiSession, tmp_path: Path) -> None:
    pool = await create_pool(admin, tmp_path / "defaults")
    fast = await create_volume_type(admin, pool["id"], name="fast", is_default=True)
    assert fast["is_default"] is True
    defaults = (await admin.get("/volume-types", params={"is_default": "true"})).json()["items"]
    assert [t["id"] for t in defaults] == [fast["id"]]
    volume = await create_volume(admin)
    assert volume["volume_type"] == "fast"
    standard = (await admin.get("/volume-types/standard")).json()
    moved = await admin.patch(f"/volume-types/{standard['id']}", json={"is_default": True})
    assert moved.json()["is_default"] is True
    assert (await admin.get(f"/volume-types/{fast['id']}")).json()["is_default"] is False
    await admin.settle()


async def test_the_default_or_a_used_type_cannot_be_deleted(
    admin: ApiSession, tmp_path: Path
) -> None:
    standard = (await admin.get("/volume-types/standard")).json()
    error = assert_error(await admin.delete(f"/volume-types/{standard['id']}"), 409, "conflict")
    assert error["details"]["status"] == "default"
    _, volume_type = await pool_with_type(admin, tmp_path / "used", capacity_gb=5)
    await create_volume(admin, volume_type=volume_type["id"])
    error = assert_error(await admin.delete(f"/volume-types/{volume_type['id']}"), 409, "conflict")
    assert error["details"]["in_use_by"] == {"volumes": 1}
    await admin.settle()
