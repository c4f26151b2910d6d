"""Listing servers asks Nova once per refresh, by changes-since, and notices deletions."""

from __future__ import annotations

import uuid

from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.base import PowerState, ServerSpec
from cloudplane.drivers.openstack.driver import OpenStackDriver


def server_spec() -> ServerSpec:
    return ServerSpec(id=str(uuid.uuid4()), name="sync", vcpus=1, ram_mb=256, disk_gb=1, image=None)


async def test_the_first_list_is_full_and_later_ones_ask_for_changes_since(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    specs = [server_spec() for _ in range(3)]
    for spec in specs:
        await driver.create_server(spec)
    before = len(cloud.requests)

    await driver.list_servers()
    listed = await driver.list_servers()

    made = [r for r in cloud.requests[before:] if r.service == "compute"]
    assert [r.path for r in made] == ["/servers/detail", "/servers/detail"]
    assert all("changes-since" in request.query for request in made)
    assert {spec.id for spec in specs} <= {info.id for info in listed}


async def test_a_server_deleted_behind_our_back_drops_out_of_the_list(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    kept, doomed = server_spec(), server_spec()
    await driver.create_server(kept)
    gone = await driver.create_server(doomed)
    await driver.list_servers()
    assert gone.backend_id is not None

    cloud.delete_server_behind_the_back(gone.backend_id)
    listed = {info.id: info for info in await driver.list_servers()}

    assert doomed.id not in listed
    assert listed[kept.id].power_state is PowerState.RUNNING
    last_list = cloud.requests_to("compute", "GET", "/servers/detail")[-1]
    assert "changes-since" in last_list.query


async def test_a_change_made_in_the_cloud_shows_in_the_next_list(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    created = await driver.create_server(server_spec())
    await driver.list_servers()
    assert created.backend_id is not None

    cloud.crash_server(created.backend_id, "the hypervisor died")
    listed = {info.id: info for info in await driver.list_servers()}

    assert listed[created.id].power_state is PowerState.CRASHED
    assert listed[created.id].fault == "the hypervisor died"
