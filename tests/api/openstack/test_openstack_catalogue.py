"""The cloud's flavors and images become cloudplane's catalogue and follow the cloud."""

from __future__ import annotations

import pytest
from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.state import SEED_IMAGE_NAME, Cloud
from tests.support.api import ApiSession
from tests.support.databases import ALL_ENGINES
from tests.support.factories import active_server, new_member, new_project_member

from cloudplane.app import periodic_jobs
from cloudplane.catalogue_sync import sync_catalogue


async def _flavors(api: ApiSession) -> dict[str, dict[str, int]]:
    items = (await api.get("/flavors", params={"limit": 100})).json()["items"]
    return {f["name"]: {k: f[k] for k in ("vcpus", "ram_mb", "disk_gb")} for f in items}


async def _image_ids(api: ApiSession) -> set[str]:
    items = (await api.get("/images", params={"limit": 100})).json()["items"]
    return {i["id"] for i in items}


async def test_the_sync_runs_at_start_and_periodically_for_the_openstack_driver(
    admin: ApiSession,
) -> None:
    jobs = {job.name: job for job in periodic_jobs(admin.runtime.settings)}

    assert "catalogue.sync" in jobs
    assert jobs["catalogue.sync"].interval_s == 300.0


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_the_clouds_flavors_are_imported_and_unservable_ones_withdrawn(
    admin: ApiSession,
) -> None:
    counts = await sync_catalogue(admin.runtime)

    flavors = await _flavors(admin)
    assert flavors["cirros256"] == {"vcpus": 1, "ram_mb": 256, "disk_gb": 1}
    assert flavors["m1.medium"] == {"vcpus": 2, "ram_mb": 4096, "disk_gb": 40}
    # The seeded m1.large and m1.xlarge fit no flavor of this cloud: they could never build.
    assert "m1.large" not in flavors
    assert "m1.xlarge" not in flavors
    assert counts["flavors_added"] == 1
    assert counts["flavors_withdrawn"] == 2


async def test_a_flavor_changed_in_the_cloud_changes_in_cloudplane(
    admin: ApiSession, cloud: Cloud
) -> None:
    await sync_catalogue(admin.runtime)
    cloud.flavors["3"]["ram"] = 6144

    await sync_catalogue(admin.runtime)

    assert (await _flavors(admin))["m1.medium"]["ram_mb"] == 6144


async def test_the_clouds_images_are_imported_under_their_glance_ids_for_every_project(
    admin: ApiSession, cloud: Cloud
) -> None:
    await sync_catalogue(admin.runtime)
    glance_id = next(i["id"] for i in cloud.images.values() if i["name"] == SEED_IMAGE_NAME)
    member = await new_member(admin, admin.project_id)
    outsider = await new_project_member(admin)

    assert glance_id in await _image_ids(member)
    assert glance_id in await _image_ids(outsider)


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_images_follow_the_cloud_on_the_next_sync(admin: ApiSession, cloud: Cloud) -> None:
    await sync_catalogue(admin.runtime)
    first_id = next(iter(cloud.images))
    new_id = "1f0c9bc6-7c64-4bb0-8f1e-2b1f3a4c5d6e"
    cloud.images[new_id] = payload("image", id=new_id, name="debian-12", size=1 << 20)
    del cloud.images[first_id]

    counts = await sync_catalogue(admin.runtime)

    ids = await _image_ids(admin)
    assert new_id in ids
    assert first_id not in ids
    assert (counts["images_added"], counts["images_withdrawn"]) == (1, 1)


async def test_a_server_boots_from_an_imported_image_without_an_upload(
    admin: ApiSession, cloud: Cloud
) -> None:
    await sync_catalogue(admin.runtime)
    glance_id = next(i["id"] for i in cloud.images.values() if i["name"] == SEED_IMAGE_NAME)
    flavor_id = next(
        f["id"] for f in (await admin.get("/flavors", params={"name": "cirros256"})).json()["items"]
    )

    created = await admin.post(
        "/servers", json={"name": "from-glance", "flavor_id": flavor_id, "image_id": glance_id}
    )
    assert created.status_code == 202, created.text
    await admin.settle()

    shown = (await admin.get(f"/servers/{created.json()['id']}")).json()
    assert shown["status"] == "ACTIVE", shown
    assert cloud.image_data == {}  # nothing was uploaded: the image was already there
    assert await active_server(admin)  # cloudplane's own image still works beside it
