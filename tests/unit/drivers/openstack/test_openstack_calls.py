"""Every cloud call retries 5xx answers and lost connections with backoff, and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from tests.openstack_cloud.drivers import local_cloud_options
from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.base import ServerNotFound, ServerSpec
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.openstack.connection import OpenStackOptions
from cloudplane.drivers.openstack.driver import OpenStackDriver


def spec() -> ServerSpec:
    return ServerSpec(
        id=str(uuid.uuid4()), name="calls", vcpus=1, ram_mb=256, disk_gb=1, image=None
    )


async def test_a_500_is_retried_and_the_call_then_succeeds(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    created = await driver.create_server(spec())
    cloud.inject_error("compute", "GET", f"/servers/{created.backend_id}", 500)

    fetched = await driver.get_server(created.id)

    assert fetched == created
    assert len(cloud.requests_to("compute", "GET", f"/servers/{created.backend_id}")) >= 2
    assert cloud.injected[-1].times == 0


async def test_a_404_is_not_retried(driver: OpenStackDriver, cloud: Cloud) -> None:
    created = await driver.create_server(spec())
    path = f"/servers/{created.backend_id}"
    before = len(cloud.requests_to("compute", "GET", path))
    cloud.inject_error("compute", "GET", path, 404)

    with pytest.raises(ServerNotFound):
        await driver.get_server(created.id)

    assert len(cloud.requests_to("compute", "GET", path)) == before + 1


async def test_retries_stop_after_the_configured_number(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    cloud.inject_error("compute", "GET", "/servers/detail", 500, times=10)

    with pytest.raises(DriverError) as raised:
        await driver.list_servers()

    assert raised.value.code == "cloud_error"
    retries = driver.backend.options.retries
    assert len(cloud.requests_to("compute", "GET", "/servers/detail")) == retries + 1


async def test_a_cloud_that_refuses_connections_is_unavailable_after_retries(
    tmp_path: Path,
) -> None:
    clouds_yaml = tmp_path / "clouds.yaml"
    clouds_yaml.write_text(
        "clouds:\n  gone:\n    auth:\n      auth_url: http://127.0.0.1:9/identity/v3\n"
        "      username: u\n      password: p\n      project_name: p\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n",
        encoding="utf-8",
    )
    driver = OpenStackDriver(
        OpenStackOptions(cloud="gone", clouds_yaml=clouds_yaml, retries=2, retry_backoff_s=0.01)
    )
    await driver.open()
    try:
        with pytest.raises(DriverError) as raised:
            await driver.check()
    finally:
        await driver.close()

    assert raised.value.code == "cloud_unavailable"


async def test_cloud_calls_run_off_the_event_loop(driver: OpenStackDriver, cloud: Cloud) -> None:
    await driver.check()  # authenticated and discovered before the cloud slows down
    cloud.response_delay_s = 0.3
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        await driver.list_servers()
    finally:
        ticker.cancel()

    # The loop kept turning while the call waited ~0.3 s on the cloud.
    assert ticks >= 10


async def test_a_cloud_that_does_not_answer_in_time_is_unavailable(
    tmp_path: Path, cloud: Cloud
) -> None:
    driver = OpenStackDriver(
        local_cloud_options(tmp_path, call_timeout_s=0.1, retries=1, retry_backoff_s=0.01)
    )
    await driver.open()
    try:
        await driver.check()
        cloud.response_delay_s = 1.0
        with pytest.raises(DriverError) as raised:
            await driver.list_servers()
    finally:
        cloud.response_delay_s = 0.0
        await driver.close()

    assert raised.value.code == "cloud_unavailable"
    assert len(cloud.requests_to("compute", "GET", "/servers/detail")) == 2


async def test_a_create_whose_answer_was_a_500_is_not_made_twice(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    cloud.inject_error("compute", "POST", "/servers", 500, after_handling=True)
    wanted = spec()

    created = await driver.create_server(wanted)

    assert len(cloud.requests_to("compute", "POST", "/servers")) == 1
    assert [s["id"] for s in cloud.servers.values()] == [created.backend_id]
    assert created.id == wanted.id


async def test_a_new_driver_finds_what_an_earlier_one_made(
    driver: OpenStackDriver, cloud: Cloud, tmp_path: Path
) -> None:
    wanted = spec()
    first = await driver.create_server(wanted)
    again = OpenStackDriver(local_cloud_options(tmp_path))
    await again.open()
    try:
        second = await again.create_server(wanted)
    finally:
        await again.close()

    assert second == first
    assert len(cloud.requests_to("compute", "POST", "/servers")) == 1
