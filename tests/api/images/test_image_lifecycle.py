"""Creating, changing and deleting images: bodies, names, validation and the in-use rule."""

from __future__ import annotations

from datetime import datetime

from tests.api.images.image_factories import active_image, create_image, qcow2_bytes
from tests.support.api import ApiSession, assert_error
from tests.support.factories import catalogue_ids, create_server, new_project_member

from cloudplane.images.storage import ImageStore

IMAGE_FIELDS = {
    "id",
    "name",
    "status",
    "disk_format",
    "size_bytes",
    "checksum_sha256",
    "min_disk_gb",
    "min_ram_mb",
    "visibility",
    "project_id",
    "created_at",
    "updated_at",
    "deleted_at",
}


async def test_a_created_image_is_queued_private_and_in_the_callers_project(
    admin: ApiSession,
) -> None:
    response = await admin.post(
        "/images", json={"name": "base", "disk_format": "qcow2", "min_disk_gb": 2}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == IMAGE_FIELDS
    assert response.headers["location"] == f"/api/v1/images/{body['id']}"
    assert body["status"] == "queued"
    assert body["visibility"] == "private"
    assert body["project_id"] == admin.project_id
    assert (body["min_disk_gb"], body["min_ram_mb"]) == (2, 0)
    assert body["deleted_at"] is None
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert (await admin.get(f"/images/{body['id']}")).json() == body


async def test_a_name_taken_by_a_live_image_in_the_project_is_a_conflict(
    admin: ApiSession,
) -> None:
    first = await create_image(admin, name="dup")

    again = await admin.post("/images", json={"name": "dup", "disk_format": "raw"})
    assert_error(again, 409, "conflict")
    other = await create_image(admin, name="other")
    rename = await admin.patch(f"/images/{other['id']}", json={"name": "dup"})
    assert_error(rename, 409, "conflict")

    assert (await admin.delete(f"/images/{first['id']}")).status_code == 204
    reused = await admin.post("/images", json={"name": "dup", "disk_format": "raw"})
    assert reused.status_code == 201, reused.text


async def test_bad_image_input_is_a_validation_error_naming_each_field(
    admin: ApiSession,
) -> None:
    response = await admin.post(
        "/images",
        json={"name": "", "disk_format": "vmdk", "min_disk_gb": -1, "visibility": "shared"},
    )

    error = assert_error(response, 422, "validation_error")
    fields = {tuple(entry["loc"]) for entry in error["details"]["errors"]}
    assert {
        ("body", "name"),
        ("body", "disk_format"),
        ("body", "min_disk_gb"),
        ("body", "visibility"),
    } <= fields
    image = await create_image(admin)
    patch = await admin.patch(f"/images/{image['id']}", json={"status": "active"})
    assert_error(patch, 422, "validation_error")


async def test_patch_changes_only_the_given_fields(admin: ApiSession) -> None:
    image = await create_image(admin, min_disk_gb=1, min_ram_mb=128)

    response = await admin.patch(f"/images/{image['id']}", json={"name": "renamed"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "renamed"
    assert (body["min_disk_gb"], body["min_ram_mb"]) == (1, 128)
    assert body["updated_at"] >= image["updated_at"]


async def test_deleting_an_image_removes_it_and_its_file(admin: ApiSession) -> None:
    image = await active_image(admin)
    path = ImageStore(admin.runtime.settings.images_dir).path_for(image["id"])
    assert path.exists()

    response = await admin.delete(f"/images/{image['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert not path.exists()
    assert_error(await admin.get(f"/images/{image['id']}"), 404, "not_found")
    assert_error(await admin.get(f"/images/{image['id']}/file"), 404, "not_found")
    assert_error(await admin.delete(f"/images/{image['id']}"), 404, "not_found")
    deleted = (await admin.get(f"/images/{image['id']}", params={"deleted": "true"})).json()
    assert deleted["status"] == "deleted"
    assert deleted["deleted_at"] is not None


async def test_a_queued_image_without_a_file_can_be_deleted(admin: ApiSession) -> None:
    image = await create_image(admin)

    assert (await admin.delete(f"/images/{image['id']}")).status_code == 204


async def test_an_image_used_by_a_live_server_cannot_be_deleted(admin: ApiSession) -> None:
    image = await active_image(admin, qcow2_bytes(), disk_format="qcow2", min_disk_gb=1)
    server = await create_server(admin, image_id=image["id"])
    await admin.settle()

    refused = await admin.delete(f"/images/{image['id']}")

    error = assert_error(refused, 409, "conflict")
    assert error["details"]["status"] == "active"
    assert error["details"]["in_use_by"] == {"servers": 1}
    assert (await admin.get(f"/images/{image['id']}/file")).status_code == 200

    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert (await admin.delete(f"/images/{image['id']}")).status_code == 204


async def test_a_server_boots_only_from_an_active_image_it_can_see(admin: ApiSession) -> None:
    flavor_id, _ = await catalogue_ids(admin)
    queued = await create_image(admin, disk_format="qcow2")
    stranger = await new_project_member(admin)
    private = await active_image(stranger, qcow2_bytes(), disk_format="qcow2")

    not_active = await admin.post(
        "/servers", json={"name": "s1", "flavor_id": flavor_id, "image_id": queued["id"]}
    )
    invisible = await stranger.post(
        "/servers", json={"name": "s2", "flavor_id": flavor_id, "image_id": queued["id"]}
    )
    own_private = await stranger.post(
        "/servers", json={"name": "s3", "flavor_id": flavor_id, "image_id": private["id"]}
    )

    assert assert_error(not_active, 409, "conflict")["details"]["status"] == "queued"
    assert_error(invisible, 404, "not_found")
    assert own_private.status_code == 202, own_private.text


async def test_a_repeated_create_with_the_same_idempotency_key_makes_one_image(
    admin: ApiSession,
) -> None:
    body = {"name": "once", "disk_format": "qcow2"}
    headers = {"Idempotency-Key": "image-once"}

    first = await admin.post("/images", json=body, headers=headers)
    second = await admin.post("/images", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    listed = (await admin.get("/images", params={"name": "once"})).json()["items"]
    assert [image["id"] for image in listed] == [first.json()["id"]]
