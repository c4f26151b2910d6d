"""The cloud's refusals and failures become the driver's errors, and nothing is left behind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.base import PowerState, ServerSpec
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.network_contract import AddressRange, NetworkSpec, PortSpec
from cloudplane.drivers.openstack.driver import OpenStackDriver
from cloudplane.drivers.storage_contract import VolumeSpec


def server_spec() -> ServerSpec:
    return ServerSpec(
        id=str(uuid.uuid4()), name="errors", vcpus=1, ram_mb=256, disk_gb=1, image=None
    )


async def test_a_nova_quota_refusal_is_quota_exceeded_and_leaves_nothing(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    cloud.quotas.instances = 0

    with pytest.raises(DriverError) as raised:
        await driver.create_server(server_spec())

    assert raised.value.code == "quota_exceeded"
    assert "Quota exceeded for instances" in raised.value.message
    assert cloud.servers == {}


async def test_a_cinder_over_limit_is_quota_exceeded(
    driver: OpenStackDriver, cloud: Cloud, tmp_path: Path
) -> None:
    cloud.quotas.gigabytes = 1
    spec = VolumeSpec(id=str(uuid.uuid4()), name="big", size_gb=2, pool_path=str(tmp_path))

    with pytest.raises(DriverError) as raised:
        await driver.create_volume(spec)

    assert raised.value.code == "quota_exceeded"
    assert cloud.volumes == {}


async def test_a_neutron_over_quota_is_quota_exceeded(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    network = NetworkSpec(
        id=str(uuid.uuid4()),
        name="net",
        cidr="10.1.0.0/24",
        gateway_ip="10.1.0.1",
        allocation_pools=(AddressRange("10.1.0.2", "10.1.0.254"),),
    )
    await driver.create_network(network)
    cloud.quotas.ports = 0

    with pytest.raises(DriverError) as raised:
        await driver.create_port(
            PortSpec(str(uuid.uuid4()), network.id, "fa:16:3e:00:00:09", ("10.1.0.9",))
        )

    assert raised.value.code == "quota_exceeded"


async def test_a_nova_conflict_on_an_action_is_conflict(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    created = await driver.create_server(server_spec())
    cloud.inject_error("compute", "POST", f"/servers/{created.backend_id}/action", 409)

    with pytest.raises(DriverError) as raised:
        await driver.pause_server(created.id)

    assert raised.value.code == "conflict"
    assert (await driver.get_server(created.id)).power_state is PowerState.RUNNING


async def test_a_failed_build_reports_the_clouds_fault_and_removes_the_server(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    cloud.failing_build_message = "No valid host was found. There are not enough hosts available."
    spec = server_spec()

    with pytest.raises(DriverError) as raised:
        await driver.create_server(spec)

    assert raised.value.code == "build_failed"
    assert "No valid host was found" in raised.value.message
    assert cloud.servers == {}
    assert spec.id not in {s.id for s in await driver.list_servers()}


async def test_a_server_the_cloud_put_in_error_reports_crashed_with_the_fault(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    created = await driver.create_server(server_spec())
    assert created.backend_id is not None
    cloud.crash_server(created.backend_id, "Host compute-3 lost power")

    reported = await driver.get_server(created.id)

    assert reported.power_state is PowerState.CRASHED
    assert reported.fault == "Host compute-3 lost power"


async def test_a_server_error_from_the_api_is_not_mistaken_for_a_missing_server(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    created = await driver.create_server(server_spec())
    cloud.inject_error("compute", "GET", f"/servers/{created.backend_id}", 500, times=10)

    with pytest.raises(DriverError) as raised:
        await driver.get_server(created.id)

    assert raised.value.code == "cloud_error"


async def test_novas_over_limit_413_is_quota_exceeded_and_not_retried(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    cloud.inject_error("compute", "POST", "/servers", 413)

    with pytest.raises(DriverError) as raised:
        await driver.create_server(server_spec())

    assert raised.value.code == "quota_exceeded"
    assert len(cloud.requests_to("compute", "POST", "/servers")) == 1
    assert cloud.servers == {}
