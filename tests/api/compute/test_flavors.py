"""Flavors: everyone lists public ones; admins create, see non-public ones, and delete unused."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import catalogue_ids, create_server, new_project_member

FLAVOR_FIELDS = {
    "id",
    "name",
    "vcpus",
    "ram_mb",
    "disk_gb",
    "is_public",
    "created_at",
    "updated_at",
    "deleted_at",
}
RACERS = 8


async def _create_flavor(admin: ApiSession, **fields: Any) -> dict[str, Any]:
    body = {"name": f"f-{uuid.uuid4().hex[:8]}", "vcpus": 1, "ram_mb": 256, "disk_gb": 1, **fields}
    response = await admin.post("/flavors", json=body)
    assert response.status_code == 201, response.text
    flavor: dict[str, Any] = response.json()
    return flavor


async def _names(api: ApiSession, **params: Any) -> list[str]:
    response = await api.get("/flavors", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_everyone_sees_the_seeded_flavors(admin: ApiSession) -> None:
    member = await new_project_member(admin)

    listed = (await member.get("/flavors", params={"sort": "name:asc"})).json()

    names = [item["name"] for item in listed["items"]]
    assert names == ["m1.large", "m1.medium", "m1.small", "m1.tiny", "m1.xlarge"]
    assert listed["next_marker"] is None
    tiny = next(item for item in listed["items"] if item["name"] == "m1.tiny")
    assert set(tiny) == FLAVOR_FIELDS
    assert (tiny["vcpus"], tiny["ram_mb"], tiny["disk_gb"], tiny["is_public"]) == (1, 512, 1, True)
    assert (await member.get(f"/flavors/{tiny['id']}")).json() == tiny


async def test_an_admin_creates_a_flavor(admin: ApiSession) -> None:
    response = await admin.post(
        "/flavors", json={"name": "c2.big", "vcpus": 2, "ram_mb": 3072, "disk_gb": 0}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/flavors/{body['id']}"
    assert {k: body[k] for k in ("name", "vcpus", "ram_mb", "disk_gb", "is_public")} == {
        "name": "c2.big",
        "vcpus": 2,
        "ram_mb": 3072,
        "disk_gb": 0,
        "is_public": True,
    }
    assert (await admin.get(f"/flavors/{body['id']}")).json() == body


async def test_members_and_readers_may_not_create_or_delete_flavors(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    reader = await new_project_member(admin, role="reader")
    flavor = await _create_flavor(admin)
    body = {"name": "mine", "vcpus": 1, "ram_mb": 128, "disk_gb": 1}

    for api in (member, reader):
        assert_error(await api.post("/flavors", json=body), 403, "forbidden")
        assert_error(await api.delete(f"/flavors/{flavor['id']}"), 403, "forbidden")
    assert "mine" not in await _names(admin)


async def test_a_flavor_name_taken_by_a_live_flavor_is_a_conflict(admin: ApiSession) -> None:
    first = await _create_flavor(admin, name="twice")

    again = await admin.post(
        "/flavors", json={"name": "twice", "vcpus": 2, "ram_mb": 512, "disk_gb": 2}
    )
    assert_error(again, 409, "conflict")

    assert (await admin.delete(f"/flavors/{first['id']}")).status_code == 204
    await _create_flavor(admin, name="twice")


async def test_bad_flavor_input_is_a_validation_error_naming_each_field(
    admin: ApiSession,
) -> None:
    response = await admin.post(
        "/flavors", json={"name": "", "vcpus": 0, "ram_mb": 32, "disk_gb": -1}
    )

    error = assert_error(response, 422, "validation_error")
    fields = {tuple(entry["loc"]) for entry in error["details"]["errors"]}
    expected = {("body", name) for name in ("name", "vcpus", "ram_mb", "disk_gb")}
    assert expected <= fields
    missing = assert_error(
        await admin.post("/flavors", json={"name": "x"}), 422, "validation_error"
    )
    assert ["body", "vcpus"] in [entry["loc"] for entry in missing["details"]["errors"]]


async def test_a_non_public_flavor_exists_only_for_admins(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    hidden = await _create_flavor(admin, name="hidden", is_public=False)

    assert "hidden" in await _names(admin)
    assert await _names(admin, is_public="false") == ["hidden"]
    assert "hidden" not in await _names(member)
    assert_error(await member.get(f"/flavors/{hidden['id']}"), 404, "not_found")
    assert (await admin.get(f"/flavors/{hidden['id']}")).json()["is_public"] is False


async def test_a_flavor_used_by_a_live_server_cannot_be_deleted(admin: ApiSession) -> None:
    flavor = await _create_flavor(admin, vcpus=1, ram_mb=512, disk_gb=1)
    server = await create_server(admin, flavor_id=flavor["id"])
    await admin.settle()

    refused = await admin.delete(f"/flavors/{flavor['id']}")

    assert assert_error(refused, 409, "conflict")["details"]["in_use_by"] == {"servers": 1}
    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert (await admin.delete(f"/flavors/{flavor['id']}")).status_code == 204


async def test_a_deleted_flavor_is_gone_except_to_admins_who_ask(admin: ApiSession) -> None:
    flavor = await _create_flavor(admin)

    assert (await admin.delete(f"/flavors/{flavor['id']}")).status_code == 204

    assert_error(await admin.get(f"/flavors/{flavor['id']}"), 404, "not_found")
    assert_error(await admin.delete(f"/flavors/{flavor['id']}"), 404, "not_found")
    assert flavor["name"] not in await _names(admin)
    assert flavor["name"] in await _names(admin, deleted="true")
    shown = await admin.get(f"/flavors/{flavor['id']}", params={"deleted": "true"})
    assert shown.json()["deleted_at"] is not None


async def test_flavors_page_sort_and_filter_by_name(admin: ApiSession) -> None:
    for name in ("zz.b", "zz.a", "zz.c", "zz_d"):
        await _create_flavor(admin, name=name)

    assert await _names(admin, name_prefix="zz.", sort="name:asc") == ["zz.a", "zz.b", "zz.c"]
    assert await _names(admin, name_prefix="zz_", sort="name:desc") == ["zz_d"]
    assert await _names(admin, name="zz.b") == ["zz.b"]
    first = (await admin.get("/flavors", params={"name_prefix": "zz", "limit": 3})).json()
    assert [item["name"] for item in first["items"]] == ["zz_d", "zz.c", "zz.a"]
    rest = await admin.get(
        "/flavors", params={"name_prefix": "zz", "limit": 3, "marker": first["next_marker"]}
    )
    assert [item["name"] for item in rest.json()["items"]] == ["zz.b"]
    assert rest.json()["next_marker"] is None
    assert_error(await admin.get("/flavors", params={"marker": "nope"}), 400, "bad_request")


async def test_a_repeated_create_with_the_same_idempotency_key_makes_one_flavor(
    admin: ApiSession,
) -> None:
    body = {"name": "once", "vcpus": 1, "ram_mb": 128, "disk_gb": 1}
    headers = {"Idempotency-Key": "flavor-once"}

    first = await admin.post("/flavors", json=body, headers=headers)
    second = await admin.post("/flavors", json=body, headers=headers)
    changed = await admin.post("/flavors", json={**body, "vcpus": 2}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert_error(changed, 422, "validation_error")
    assert await _names(admin, name="once") == ["once"]


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_concurrent_creates_of_one_flavor_name_give_one_201(admin: ApiSession) -> None:
    body = {"name": "contested", "vcpus": 1, "ram_mb": 128, "disk_gb": 1}

    responses = await asyncio.gather(*(admin.post("/flavors", json=body) for _ in range(RACERS)))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: RACERS - 1}, [r.text for r in responses]


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_flavor_is_never_deleted_under_a_server_created_at_the_same_time(
    admin: ApiSession,
) -> None:
    _, image_id = await catalogue_ids(admin)
    for n in range(4):
        flavor = await admin.post(
            "/flavors", json={"name": f"race-{n}", "vcpus": 1, "ram_mb": 128, "disk_gb": 1}
        )
        flavor_id = flavor.json()["id"]
        create, delete = await asyncio.gather(
            admin.post(
                "/servers",
                json={"name": f"racer-{n}", "flavor_id": flavor_id, "image_id": image_id},
            ),
            admin.delete(f"/flavors/{flavor_id}"),
        )
        outcome = (create.status_code, delete.status_code)
        assert outcome in ((202, 409), (404, 204)), (create.text, delete.text)
