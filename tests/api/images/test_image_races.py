"""Racing requests on images, on every engine: one wins, the others get 409 (or 404)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from tests.api.images.image_factories import (
    MiB,
    active_image,
    create_image,
    qcow2_bytes,
    random_bytes,
    upload,
)
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import catalogue_ids

RACERS = 8


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_concurrent_uploads_to_one_image_store_exactly_one_file(admin: ApiSession) -> None:
    image = await create_image(admin, disk_format="raw")
    bodies = [random_bytes(MiB, seed=n) for n in range(RACERS)]

    responses = await asyncio.gather(*(upload(admin, image["id"], body) for body in bodies))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {204: 1, 409: RACERS - 1}, [r.text for r in responses]
    winner = bodies[[r.status_code for r in responses].index(204)]
    assert (await admin.get(f"/images/{image['id']}/file")).content == winner


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_concurrent_creates_of_one_image_name_give_one_201(admin: ApiSession) -> None:
    body = {"name": "contested", "disk_format": "raw"}

    responses = await asyncio.gather(*(admin.post("/images", json=body) for _ in range(RACERS)))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: RACERS - 1}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "conflict")


def _server_body(flavor_id: str, image_id: str, n: int) -> dict[str, Any]:
    return {"name": f"racer-{n}", "flavor_id": flavor_id, "image_id": image_id}


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_an_image_is_never_deleted_under_a_server_created_at_the_same_time(
    admin: ApiSession,
) -> None:
    flavor_id, _ = await catalogue_ids(admin)
    for n in range(4):
        image = await active_image(admin, qcow2_bytes(), disk_format="qcow2")
        create, delete = await asyncio.gather(
            admin.post("/servers", json=_server_body(flavor_id, image["id"], n)),
            admin.delete(f"/images/{image['id']}"),
        )
        outcome = (create.status_code, delete.status_code)
        assert outcome in ((202, 409), (404, 204)), (create.text, delete.text)
