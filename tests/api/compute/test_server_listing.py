"""Listing servers: keyset pages, sorting and filters."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import create_server, set_quota

ALL_ENGINES = pytest.mark.parametrize(
    "engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True
)


@ALL_ENGINES
async def test_pages_follow_the_marker_and_cover_every_server_once(admin: ApiSession) -> None:
    await set_quota(admin, admin.project_id, servers=-1, vcpus=-1, ram_mb=-1)
    created = [(await create_server(admin, f"s-{i:02d}"))["id"] for i in range(12)]
    await admin.settle()
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        params = {"limit": 5, **({"marker": marker} if marker else {})}
        page = (await admin.get("/servers", params=params)).json()
        seen.extend(s["id"] for s in page["items"])
        pages += 1
        marker = page["next_marker"]
        if marker is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))


@ALL_ENGINES
async def test_sorting_by_name_ascending_and_filtering_by_prefix(admin: ApiSession) -> None:
    for name in ("web-2", "db-1", "web-1", "web_x"):
        await create_server(admin, name)
    await admin.settle()
    by_name = (await admin.get("/servers", params={"sort": "name:asc"})).json()["items"]
    assert [s["name"] for s in by_name] == ["db-1", "web-1", "web-2", "web_x"]
    prefixed = await admin.get("/servers", params={"name_prefix": "web-", "sort": "name"})
    assert [s["name"] for s in prefixed.json()["items"]] == ["web-2", "web-1"]
    exact = (await admin.get("/servers", params={"name": "db-1"})).json()["items"]
    assert [s["name"] for s in exact] == ["db-1"]
    active = (await admin.get("/servers", params={"status": "ACTIVE"})).json()["items"]
    assert len(active) == 4


async def test_an_unknown_marker_or_sort_key_is_a_bad_request(admin: ApiSession) -> None:
    assert_error(
        await admin.get("/servers", params={"marker": "00000000-0000-0000-0000-000000000000"}),
        400,
        "bad_request",
    )
    assert_error(await admin.get("/servers", params={"sort": "flavor_id"}), 400, "bad_request")
    assert_error(await admin.get("/servers", params={"limit": 0}), 422, "validation_error")
    assert_error(await admin.get("/servers", params={"limit": 1001}), 422, "validation_error")
