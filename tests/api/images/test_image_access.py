"""Who sees and changes which image: projects, public images, readers and admins."""

from __future__ import annotations

from typing import Any

from tests.api.images.image_factories import (
    OCTET_STREAM,
    active_image,
    create_image,
    random_bytes,
)
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_member, new_project_member


def _image_requests(image_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET", f"/images/{image_id}", {}),
        ("PATCH", f"/images/{image_id}", {"json": {"name": "stolen"}}),
        ("DELETE", f"/images/{image_id}", {}),
        ("PUT", f"/images/{image_id}/file", {"content": b"x" * 512, "headers": OCTET_STREAM}),
        ("GET", f"/images/{image_id}/file", {}),
    ]


async def test_another_projects_private_image_is_not_found_on_every_endpoint(
    admin: ApiSession,
) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    queued = await create_image(owner)
    active = await active_image(owner)

    for image in (queued, active):
        for method, path, kwargs in _image_requests(image["id"]):
            assert_error(await stranger.request(method, path, **kwargs), 404, "not_found")
    listed = (await stranger.get("/images", params={"visibility": "private"})).json()["items"]
    assert listed == []
    assert (await owner.get(f"/images/{active['id']}")).json()["name"] == active["name"]


async def test_a_public_image_is_visible_to_every_project_but_only_its_own_may_change_it(
    admin: ApiSession,
) -> None:
    image = await active_image(admin, visibility="public")
    stranger = await new_project_member(admin)

    assert (await stranger.get(f"/images/{image['id']}")).status_code == 200
    listed = (await stranger.get("/images")).json()["items"]
    assert image["id"] in [item["id"] for item in listed]
    assert (await stranger.get(f"/images/{image['id']}/file")).status_code == 200
    patch = await stranger.patch(f"/images/{image['id']}", json={"name": "mine-now"})
    assert_error(patch, 403, "forbidden")
    assert_error(await stranger.delete(f"/images/{image['id']}"), 403, "forbidden")


async def test_only_an_admin_may_create_a_public_image_or_make_one_public(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)

    create = await member.post(
        "/images", json={"name": "everyone", "disk_format": "raw", "visibility": "public"}
    )
    assert_error(create, 403, "forbidden")
    image = await create_image(member)
    patch = await member.patch(f"/images/{image['id']}", json={"visibility": "public"})
    assert_error(patch, 403, "forbidden")
    assert (await member.get(f"/images/{image['id']}")).json()["visibility"] == "private"

    promoted = await admin.patch(f"/images/{image['id']}", json={"visibility": "public"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["visibility"] == "public"
    assert promoted.json()["project_id"] == member.project_id


async def test_a_reader_can_read_images_but_every_write_is_forbidden(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    queued = await create_image(owner)

    assert (await reader.get(f"/images/{queued['id']}")).status_code == 200
    for method, path, kwargs in _image_requests(queued["id"]):
        if method == "GET":
            continue
        assert_error(await reader.request(method, path, **kwargs), 403, "forbidden")
    create = await reader.post("/images", json={"name": "r", "disk_format": "raw"})
    assert_error(create, 403, "forbidden")
    assert (await reader.get(f"/images/{queued['id']}")).json()["status"] == "queued"


async def test_an_admin_sees_and_changes_any_projects_private_image(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    image = await active_image(owner, random_bytes(2048))

    assert (await admin.get(f"/images/{image['id']}")).status_code == 200
    assert (await admin.get(f"/images/{image['id']}/file")).content == random_bytes(2048)
    renamed = await admin.patch(f"/images/{image['id']}", json={"min_ram_mb": 256})
    assert renamed.json()["min_ram_mb"] == 256
    assert (await admin.delete(f"/images/{image['id']}")).status_code == 204
