"""Bad server requests get a clear error and leave nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import catalogue_ids, create_server, set_quota


async def _server_count(api: ApiSession) -> int:
    return len((await api.get("/servers", params={"limit": 1000})).json()["items"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a" * 256}, "name"),
        ({"name": "bad/name"}, "name"),
        ({"flavor_id": None}, "flavor_id"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"unexpected": True}, "unexpected"),
    ],
)
async def test_malformed_create_bodies_are_422_naming_the_field(
    admin: ApiSession, body: dict[str, Any], field: str
) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    request = {"name": "ok", "flavor_id": flavor_id, "image_id": image_id, **body}
    error = assert_error(await admin.post("/servers", json=request), 422, "validation_error")
    assert any(field in e["loc"] for e in error["details"]["errors"]), error
    assert await _server_count(admin) == 0


async def test_an_unknown_flavor_or_image_is_404_and_stores_nothing(admin: ApiSession) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    for body in (
        {"name": "x", "flavor_id": "00000000-0000-0000-0000-000000000000", "image_id": image_id},
        {"name": "x", "flavor_id": flavor_id, "image_id": "00000000-0000-0000-0000-000000000000"},
    ):
        assert_error(await admin.post("/servers", json=body), 404, "not_found")
    assert await _server_count(admin) == 0
    operations = (await admin.get("/operations")).json()["items"]
    assert operations == []


async def test_an_image_that_needs_more_ram_than_the_flavor_is_422(admin: ApiSession) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    patched = await admin.patch(f"/images/{image_id}", json={"min_ram_mb": 4096})
    assert patched.status_code == 200, patched.text
    error = assert_error(
        await admin.post(
            "/servers", json={"name": "x", "flavor_id": flavor_id, "image_id": image_id}
        ),
        422,
        "validation_error",
    )
    assert "RAM" in error["message"]
    assert await _server_count(admin) == 0


async def test_a_taken_name_is_a_conflict(admin: ApiSession) -> None:
    await create_server(admin, "dup")
    flavor_id, image_id = await catalogue_ids(admin)
    assert_error(
        await admin.post(
            "/servers", json={"name": "dup", "flavor_id": flavor_id, "image_id": image_id}
        ),
        409,
        "conflict",
    )
    assert await _server_count(admin) == 1
    await admin.settle()


async def test_a_create_over_quota_is_refused_with_the_numbers(admin: ApiSession) -> None:
    await set_quota(admin, admin.project_id, servers=1)
    await create_server(admin)
    flavor_id, image_id = await catalogue_ids(admin)
    error = assert_error(
        await admin.post(
            "/servers", json={"name": "two", "flavor_id": flavor_id, "image_id": image_id}
        ),
        409,
        "quota_exceeded",
    )
    assert error["details"] == {"resource": "servers", "limit": 1, "in_use": 1, "requested": 1}
    await admin.settle()


async def test_vcpu_and_ram_quotas_count_the_flavor(admin: ApiSession) -> None:
    await set_quota(admin, admin.project_id, ram_mb=1000)
    await create_server(admin)  # m1.tiny: 512 MB
    flavor_id, image_id = await catalogue_ids(admin)
    error = assert_error(
        await admin.post(
            "/servers", json={"name": "second", "flavor_id": flavor_id, "image_id": image_id}
        ),
        409,
        "quota_exceeded",
    )
    assert error["details"]["resource"] == "ram_mb"
    assert error["details"]["in_use"] == 512
    quotas = (await admin.get(f"/projects/{admin.project_id}/quotas")).json()
    assert quotas["in_use"]["servers"] == 1
    assert quotas["in_use"]["vcpus"] == 1
    assert quotas["in_use"]["ram_mb"] == 512
    await admin.settle()


async def test_an_unknown_server_is_404_on_every_endpoint(admin: ApiSession) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in (
        ("GET", f"/servers/{missing}"),
        ("PATCH", f"/servers/{missing}"),
        ("DELETE", f"/servers/{missing}"),
        ("POST", f"/servers/{missing}/start"),
        ("GET", f"/servers/{missing}/console"),
    ):
        body = {"name": "x"} if method == "PATCH" else None
        assert_error(await admin.request(method, path, json=body), 404, "not_found")
