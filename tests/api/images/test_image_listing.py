"""Listing images: keyset pages, sorting, filters, and the admin-only scopes."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.images.image_factories import active_image, create_image
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import new_project_member


async def _names(api: ApiSession, **params: Any) -> list[str]:
    response = await api.get("/images", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_pages_follow_the_marker_until_next_marker_is_null(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    created = [await create_image(member, name=f"page-{n}") for n in range(5)]
    seen: list[str] = []
    marker: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, "sort": "name:asc", "name_prefix": "page-"}
        if marker is not None:
            params["marker"] = marker
        body = (await member.get("/images", params=params)).json()
        seen += [item["name"] for item in body["items"]]
        pages += 1
        marker = body["next_marker"]
        if marker is None:
            break
        assert marker == body["items"][-1]["id"]
    assert seen == [image["name"] for image in created]
    assert pages == 3


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_images_sort_by_name_and_by_creation_time_both_ways(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    for name in ("b-img", "c-img", "a-img"):
        await create_image(member, name=name)
    private = {"visibility": "private"}

    assert await _names(member, sort="name:asc", **private) == ["a-img", "b-img", "c-img"]
    assert await _names(member, sort="name:desc", **private) == ["c-img", "b-img", "a-img"]
    assert await _names(member, **private) == ["a-img", "c-img", "b-img"]
    assert await _names(member, sort="created_at:asc", **private) == ["b-img", "c-img", "a-img"]
    assert await _names(member, sort="updated_at:desc", **private) == ["a-img", "c-img", "b-img"]


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_filters_combine_with_and(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await create_image(member, name="web_1", disk_format="qcow2")
    await create_image(member, name="webx1", disk_format="raw")
    await active_image(member, name="web-2", disk_format="raw")
    await create_image(member, name="db-1", disk_format="iso")

    assert await _names(member, name="db-1") == ["db-1"]
    assert await _names(member, name_prefix="web_", sort="name:asc") == ["web_1"]
    # Sorted here: how engines collate "-", "_" and letters differs.
    assert sorted(await _names(member, name_prefix="web")) == ["web-2", "web_1", "webx1"]
    assert await _names(member, disk_format="raw", sort="name:asc") == ["web-2", "webx1"]
    assert await _names(member, status="active", visibility="private") == ["web-2"]
    assert await _names(member, status="queued", disk_format="qcow2") == ["web_1"]
    assert "tiny" in await _names(member, visibility="public")
    assert "tiny" not in await _names(member, visibility="private")


async def test_bad_list_parameters_are_refused(admin: ApiSession) -> None:
    assert_error(await admin.get("/images", params={"marker": "nope"}), 400, "bad_request")
    assert_error(await admin.get("/images", params={"sort": "size_bytes"}), 400, "bad_request")
    assert_error(await admin.get("/images", params={"limit": 0}), 422, "validation_error")
    assert_error(await admin.get("/images", params={"status": "gone"}), 422, "validation_error")
    error = assert_error(
        await admin.get("/images", params={"disk_format": "vmdk"}), 422, "validation_error"
    )
    assert ["query", "disk_format"] in [entry["loc"] for entry in error["details"]["errors"]]


async def test_admins_list_other_projects_and_deleted_images_only_when_they_ask(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    kept = await create_image(member, name="kept")
    gone = await create_image(member, name="gone")
    assert (await member.delete(f"/images/{gone['id']}")).status_code == 204

    assert "kept" not in await _names(admin)
    assert "kept" in await _names(admin, all_projects="true")
    assert await _names(admin, project_id=member.project_id) == ["kept"]
    with_deleted = await _names(admin, project_id=member.project_id, deleted="true")
    assert sorted(with_deleted) == ["gone", "kept"]
    assert await _names(member, deleted="true", visibility="private") == ["kept"]
    assert await _names(member, all_projects="true", visibility="private") == ["kept"]
    assert kept["project_id"] == member.project_id
