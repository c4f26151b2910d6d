"""Several libvirt hosts behind one driver, on libvirt's test hypervisor (tier a)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.libvirt_hosts import prefix_for, private_test_host

from cloudplane.drivers.base import PowerState, ServerNotFound, ServerSpec
from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.host_inventory import HostReport
from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.fleet import LibvirtFleet, pick_host
from cloudplane.drivers.libvirt.options import LibvirtOptions


def report(uri: str, free_mb: int, *, up: bool = True) -> HostReport:
    return HostReport(uri=uri, up=up, name=uri, free_memory_mb=free_mb)


def spec(ram_mb: int) -> ServerSpec:
    return ServerSpec(
        id=str(uuid.uuid4()), name="fleet", vcpus=1, ram_mb=ram_mb, disk_gb=1, image=None
    )


def test_placement_picks_the_answering_host_with_the_most_free_memory_that_fits() -> None:
    reports = [report("a", 1000), report("b", 4000, up=False), report("c", 3000), report("d", 500)]

    assert pick_host(reports, 512) == 2
    assert pick_host(reports, 3000) == 2
    assert pick_host(reports, 3001) is None
    assert pick_host([report("a", 2000), report("b", 2000)], 512) == 0  # ties: the first


def test_security_groups_their_peers_and_floating_ips_are_offered_by_one_host_not_several(
    tmp_path: Path,
) -> None:
    def real_host(name: str) -> LibvirtDriver:
        # Not opened: what a driver offers follows from its URI alone.
        return LibvirtDriver(LibvirtOptions(uri="qemu:///system", state_dir=tmp_path / name))

    alone = LibvirtFleet([real_host("a")])
    several = LibvirtFleet([real_host("a"), real_host("b")])

    filtering = {
        Capability.SECURITY_GROUPS,
        Capability.GROUP_PEERS,
        Capability.GROUP_PEERS_WITH_PROTOCOL,
        Capability.FLOATING_IPS,
    }
    assert filtering <= alone.capabilities  # make services installs ipset and iptables
    assert not filtering & several.capabilities
    assert several.capabilities == alone.capabilities - filtering


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[LibvirtFleet, LibvirtDriver, LibvirtDriver]]:
    small, big = (
        LibvirtDriver(
            LibvirtOptions(uri=uri, state_dir=tmp_path / name, name_prefix=prefix_for(tmp_path))
        )
        for name, uri in (
            ("small", private_test_host(tmp_path, cpus=4, memory_mib=2048)),
            ("big", private_test_host(tmp_path, cpus=8, memory_mib=8192)),
        )
    )
    fleet = LibvirtFleet([small, big])
    await fleet.open()
    try:
        yield fleet, small, big
    finally:
        await fleet.close()


async def test_a_server_goes_to_the_host_with_more_free_memory_and_is_acted_on_there(
    fleet: tuple[LibvirtFleet, LibvirtDriver, LibvirtDriver],
) -> None:
    driver, small, big = fleet
    server = spec(512)

    await driver.create_server(server)
    stopped = await driver.stop_server(server.id)

    assert stopped.power_state is PowerState.SHUTDOWN
    assert (await big.get_server(server.id)).power_state is PowerState.SHUTDOWN
    with pytest.raises(ServerNotFound):
        await small.get_server(server.id)
    assert server.id in {info.id for info in await driver.list_servers()}


async def test_a_server_no_host_can_fit_is_refused(
    fleet: tuple[LibvirtFleet, LibvirtDriver, LibvirtDriver],
) -> None:
    driver, _small, _big = fleet
    server = spec(64 * 1024)

    with pytest.raises(DriverError) as refused:
        await driver.create_server(server)

    assert refused.value.code == "no_valid_host"
    assert server.id not in {info.id for info in await driver.list_servers()}


async def test_a_host_that_does_not_answer_is_reported_down_and_the_others_serve(
    tmp_path: Path,
) -> None:
    answering = LibvirtDriver(
        LibvirtOptions(
            uri=private_test_host(tmp_path, cpus=4, memory_mib=2048),
            state_dir=tmp_path / "a",
            name_prefix=prefix_for(tmp_path),
        )
    )
    silent = LibvirtDriver(
        LibvirtOptions(
            uri="qemu+tcp://127.0.0.1:9/system",
            state_dir=tmp_path / "b",
            name_prefix=prefix_for(tmp_path),
        )
    )
    driver = LibvirtFleet([answering, silent])
    await driver.open()
    try:
        reports = await driver.report_hosts()
        server = spec(256)
        created = await driver.create_server(server)
    finally:
        await driver.close()

    assert [r.up for r in reports] == [True, False]
    assert reports[1].error
    assert created.power_state is PowerState.RUNNING
