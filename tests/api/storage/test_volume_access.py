"""Project scoping, roles and listing for volumes and snapshots."""

from __future__ import annotations

from tests.api.storage.storage_factories import (
    attach,
    available_volume,
    create_volume,
    snapshot_of,
)
from tests.support.api import ApiSession, assert_error
from tests.support.factories import active_server, new_member, new_project_member


def _volume_endpoints(
    volume_id: str, snapshot_id: str, server_id: str
) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", f"/volumes/{volume_id}", None),
        ("PATCH", f"/volumes/{volume_id}", {"name": "stolen"}),
        ("POST", f"/volumes/{volume_id}/extend", {"size_gb": 9}),
        ("DELETE", f"/volumes/{volume_id}", None),
        ("POST", "/snapshots", {"volume_id": volume_id, "name": "stolen"}),
        ("POST", "/volumes", {"name": "copy", "size_gb": 5, "snapshot_id": snapshot_id}),
        ("GET", f"/snapshots/{snapshot_id}", None),
        ("PATCH", f"/snapshots/{snapshot_id}", {"name": "stolen"}),
        ("DELETE", f"/snapshots/{snapshot_id}", None),
        ("DELETE", f"/servers/{server_id}/volumes/{volume_id}", None),
    ]


async def test_another_projects_volume_is_not_found_on_every_endpoint(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    server = await active_server(owner)
    volume = await available_volume(owner, 2)
    snapshot = await snapshot_of(owner, volume["id"])
    await attach(owner, server["id"], volume["id"])
    await owner.settle()
    for method, path, body in _volume_endpoints(volume["id"], snapshot["id"], server["id"]):
        assert_error(await stranger.request(method, path, json=body), 404, "not_found")
    stranger_server = await active_server(stranger)
    response = await stranger.post(
        f"/servers/{stranger_server['id']}/volumes", json={"volume_id": volume["id"]}
    )
    assert_error(response, 404, "not_found")
    assert (await stranger.get("/volumes")).json()["items"] == []
    assert (await stranger.get("/snapshots")).json()["items"] == []
    shown = (await owner.get(f"/volumes/{volume['id']}")).json()
    assert (shown["name"], shown["status"]) == (volume["name"], "in-use")


async def test_a_reader_can_look_but_every_write_is_forbidden(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    server = await active_server(owner)
    volume = await available_volume(owner)
    snapshot = await snapshot_of(owner, volume["id"])
    assert (await reader.get(f"/volumes/{volume['id']}")).status_code == 200
    assert len((await reader.get("/volumes")).json()["items"]) == 1
    for method, path, body in _volume_endpoints(volume["id"], snapshot["id"], server["id"]):
        if method == "GET":
            continue
        assert_error(await reader.request(method, path, json=body), 403, "forbidden")
    response = await reader.post(
        f"/servers/{server['id']}/volumes", json={"volume_id": volume["id"]}
    )
    assert_error(response, 403, "forbidden")
    assert_error(await reader.post("/volumes", json={"name": "r", "size_gb": 1}), 403, "forbidden")


async def test_admins_list_every_project_and_deleted_volumes(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    volume = await available_volume(owner)
    own = [v["id"] for v in (await admin.get("/volumes")).json()["items"]]
    assert volume["id"] not in own
    everything = (await admin.get("/volumes", params={"all_projects": "true"})).json()["items"]
    assert volume["id"] in [v["id"] for v in everything]
    scoped = (await admin.get("/volumes", params={"project_id": owner.project_id})).json()
    assert [v["id"] for v in scoped["items"]] == [volume["id"]]
    await owner.delete(f"/volumes/{volume['id']}")
    await owner.settle()
    params = {"project_id": owner.project_id, "deleted": "true"}
    deleted = (await admin.get("/volumes", params=params)).json()["items"]
    assert [(v["id"], v["status"]) for v in deleted] == [(volume["id"], "deleted")]
    ignored = (await owner.get("/volumes", params={"deleted": "true"})).json()["items"]
    assert ignored == []


async def test_volumes_page_with_a_marker_and_filter_by_name_status_and_bootable(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    for index in range(5):
        await create_volume(member, name=f"page-{index}")
    await create_volume(member, name="other")
    await member.settle()
    first = (await member.get("/volumes", params={"limit": 2, "sort": "name:asc"})).json()
    assert [v["name"] for v in first["items"]] == ["other", "page-0"]
    second = (
        await member.get(
            "/volumes", params={"limit": 2, "sort": "name:asc", "marker": first["next_marker"]}
        )
    ).json()
    assert [v["name"] for v in second["items"]] == ["page-1", "page-2"]
    prefixed = (await member.get("/volumes", params={"name_prefix": "page-"})).json()["items"]
    assert len(prefixed) == 5
    available = (await member.get("/volumes", params={"status": "available"})).json()["items"]
    assert len(available) == 6
    bootable = (await member.get("/volumes", params={"bootable": "true"})).json()["items"]
    assert bootable == []
    by_name = (await member.get("/volumes", params={"name": "other"})).json()["items"]
    assert [v["name"] for v in by_name] == ["other"]
