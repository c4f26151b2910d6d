"""``max_upload_bytes``: an upload over it is refused, leaves no file, and can be retried."""

from __future__ import annotations

import pytest
from tests.api.images.image_factories import (
    OCTET_STREAM,
    KiB,
    MiB,
    create_image,
    random_bytes,
    upload,
)
from tests.support.api import ApiSession, assert_error

from cloudplane.settings import Settings

LIMIT = MiB + 100


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_bytes": LIMIT})


def _files_of(api: ApiSession, image_id: str) -> list[str]:
    images_dir = api.runtime.settings.images_dir
    if not images_dir.exists():
        return []
    return [path.name for path in images_dir.iterdir() if image_id in path.name]


async def test_a_streamed_upload_over_the_limit_is_refused_and_leaves_no_file(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")

    response = await upload(admin, image["id"], random_bytes(LIMIT + 1))

    error = assert_error(response, 413, "bad_request")
    assert error["details"]["max_bytes"] == LIMIT
    assert _files_of(admin, image["id"]) == []
    shown = (await admin.get(f"/images/{image['id']}")).json()
    assert shown["status"] == "queued"
    assert shown["size_bytes"] is None


async def test_an_upload_declaring_a_length_over_the_limit_is_refused_before_it_is_read(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")

    response = await admin.put(
        f"/images/{image['id']}/file",
        content=random_bytes(LIMIT + 1),
        headers=OCTET_STREAM,
    )

    assert_error(response, 413, "bad_request")
    assert _files_of(admin, image["id"]) == []
    assert (await admin.get(f"/images/{image['id']}")).json()["status"] == "queued"


async def test_an_upload_of_exactly_the_limit_is_accepted_after_a_refused_one(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")
    assert (await upload(admin, image["id"], random_bytes(LIMIT + 64 * KiB))).status_code == 413

    response = await upload(admin, image["id"], random_bytes(LIMIT))

    assert response.status_code == 204, response.text
    shown = (await admin.get(f"/images/{image['id']}")).json()
    assert shown["status"] == "active"
    assert shown["size_bytes"] == LIMIT
    assert _files_of(admin, image["id"]) == [image["id"]]
