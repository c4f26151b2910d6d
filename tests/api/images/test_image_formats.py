"""The uploaded bytes must match the image's disk_format; a mismatch stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.images.image_factories import (
    KiB,
    create_image,
    iso_bytes,
    qcow2_bytes,
    random_bytes,
    upload,
)
from tests.support.api import ApiSession, assert_error

from cloudplane.images.storage import ImageStore


async def _assert_rejected_and_still_queued(
    api: ApiSession, image: dict[str, Any], data: bytes
) -> dict[str, Any]:
    response = await upload(api, image["id"], data)
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["disk_format"]
    assert error["details"]["disk_format"] == image["disk_format"]
    shown = (await api.get(f"/images/{image['id']}")).json()
    assert shown["status"] == "queued"
    assert shown["size_bytes"] is None
    images_dir = api.runtime.settings.images_dir
    assert not ImageStore(images_dir).path_for(image["id"]).exists()
    assert [p.name for p in images_dir.iterdir() if image["id"] in p.name] == []
    return error


async def test_raw_bytes_uploaded_to_a_qcow2_image_are_rejected(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="qcow2")

    error = await _assert_rejected_and_still_queued(admin, image, random_bytes(256 * KiB))

    assert "qcow2" in error["message"]


async def test_qcow2_bytes_uploaded_to_a_raw_image_are_rejected(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="raw")

    error = await _assert_rejected_and_still_queued(admin, image, qcow2_bytes(size=256 * KiB))

    assert error["details"]["detected_format"] == "qcow2"
    assert "qcow2" in error["message"]


async def test_a_qcow2_version_other_than_2_or_3_is_rejected(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="qcow2")

    error = await _assert_rejected_and_still_queued(admin, image, qcow2_bytes(version=4))

    assert "version 4" in error["message"]


@pytest.mark.parametrize("version", [2, 3])
async def test_qcow2_versions_2_and_3_are_accepted(admin: ApiSession, version: int) -> None:
    image = await create_image(admin, disk_format="qcow2")

    response = await upload(admin, image["id"], qcow2_bytes(version=version))

    assert response.status_code == 204, response.text


async def test_an_iso_needs_the_iso_9660_signature(admin: ApiSession) -> None:
    good = await create_image(admin, disk_format="iso")
    assert (await upload(admin, good["id"], iso_bytes())).status_code == 204

    bad = await create_image(admin, disk_format="iso")
    await _assert_rejected_and_still_queued(admin, bad, random_bytes(64 * KiB))


async def test_a_file_too_short_to_hold_the_iso_signature_is_not_an_iso(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="iso")

    await _assert_rejected_and_still_queued(admin, image, iso_bytes()[:0x8004])


async def test_an_empty_file_is_rejected(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="raw")

    error = await _assert_rejected_and_still_queued(admin, image, b"")

    assert "empty" in error["message"]


async def test_a_rejected_upload_can_be_retried_with_the_right_bytes(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="qcow2")
    await _assert_rejected_and_still_queued(admin, image, random_bytes(KiB))

    response = await upload(admin, image["id"], qcow2_bytes())

    assert response.status_code == 204, response.text
    assert (await admin.get(f"/images/{image['id']}")).json()["status"] == "active"
