"""Races that really race: concurrent block-storage requests on every database engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.api.storage.storage_factories import (
    available_volume,
    create_pool,
    create_volume_type,
    pool_with_type,
    show_pool,
)
from tests.support.api import ApiSession, worker_held
from tests.support.factories import create_server, new_project_member, set_quota

ALL_ENGINES = pytest.mark.parametrize(
    "engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True
)


@ALL_ENGINES
async def test_thirty_creates_against_a_pool_that_fits_ten_make_exactly_ten(
    admin: ApiSession, tmp_path: Path
) -> None:
    await set_quota(admin, admin.project_id, volumes=-1, volume_gb=-1)
    pool, volume_type = await pool_with_type(admin, tmp_path / "race-pool", capacity_gb=10)
    responses = await asyncio.gather(
        *(
            admin.post(
                "/volumes",
                json={"name": f"fill-{i}", "size_gb": 1, "volume_type": volume_type["id"]},
            )
            for i in range(30)
        )
    )
    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(409)) == (10, 20), codes
    assert {r.json()["error"]["details"]["status"] for r in responses if r.status_code == 409} == {
        "full"
    }
    await admin.settle()
    shown = await show_pool(admin, pool["id"])
    assert (shown["allocated_gb"], shown["available_gb"]) == (10, 0)


@ALL_ENGINES
async def test_thirty_creates_under_a_quota_of_ten_make_exactly_ten(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, volumes=10)
    responses = await asyncio.gather(
        *(member.post("/volumes", json={"name": f"q-{i}", "size_gb": 1}) for i in range(30))
    )
    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(409)) == (10, 20), codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "quota_exceeded"
    }
    await member.settle()
    quotas = (await admin.get(f"/projects/{member.project_id}/quotas")).json()
    assert quotas["in_use"]["volumes"] == 10


@ALL_ENGINES
async def test_twenty_concurrent_attaches_of_one_volume_attach_it_once(
    admin: ApiSession,
) -> None:
    await set_quota(admin, admin.project_id, servers=-1, vcpus=-1, ram_mb=-1)
    servers = [await create_server(admin) for _ in range(20)]
    volume = await available_volume(admin)
    await admin.settle()
    responses = await asyncio.gather(
        *(
            admin.post(f"/servers/{server['id']}/volumes", json={"volume_id": volume["id"]})
            for server in servers
        )
    )
    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(409)) == (1, 19), codes
    await admin.settle()
    shown = (await admin.get(f"/volumes/{volume['id']}")).json()
    winner = next(r.json()["server_id"] for r in responses if r.status_code == 202)
    assert shown["status"] == "in-use"
    assert shown["attachments"] == [{"server_id": winner, "device": "vdb"}]


@ALL_ENGINES
async def test_concurrent_attaches_to_one_server_get_distinct_devices(admin: ApiSession) -> None:
    server = await create_server(admin)
    volumes = [await available_volume(admin) for _ in range(5)]
    responses = await asyncio.gather(
        *(
            admin.post(f"/servers/{server['id']}/volumes", json={"volume_id": volume["id"]})
            for volume in volumes
        )
    )
    assert [r.status_code for r in responses] == [202] * 5, [r.text for r in responses]
    devices = sorted(r.json()["device"] for r in responses)
    assert devices == ["vdb", "vdc", "vdd", "vde", "vdf"]
    await admin.settle()


@ALL_ENGINES
async def test_concurrent_make_default_requests_leave_exactly_one_default(
    admin: ApiSession, tmp_path: Path
) -> None:
    pool = await create_pool(admin, tmp_path / "defaults")
    types = [await create_volume_type(admin, pool["id"]) for _ in range(10)]
    responses = await asyncio.gather(
        *(
            admin.patch(f"/volume-types/{volume_type['id']}", json={"is_default": True})
            for volume_type in types
        )
    )
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    defaults = (await admin.get("/volume-types", params={"is_default": "true"})).json()["items"]
    assert len(defaults) == 1
    assert defaults[0]["id"] in {volume_type["id"] for volume_type in types}


@ALL_ENGINES
async def test_concurrent_extends_of_one_volume_start_one_operation(admin: ApiSession) -> None:
    volume = await available_volume(admin, 1)
    async with worker_held(admin.runtime):
        responses = await asyncio.gather(
            *(admin.post(f"/volumes/{volume['id']}/extend", json={"size_gb": 3}) for _ in range(10))
        )
    codes = [r.status_code for r in responses]
    # The losers see the volume extending (409) or, once the winner committed, already 3 GB (422).
    assert codes.count(202) == 1, codes
    assert set(codes) - {202} <= {409, 422}, codes
    await admin.settle()
    shown = (await admin.get(f"/volumes/{volume['id']}")).json()
    assert (shown["size_gb"], shown["status"]) == (3, "available")
    operations = (await admin.get("/operations", params={"resource_id": volume["id"]})).json()
    assert sorted(op["action"] for op in operations["items"]) == ["create", "extend"]
