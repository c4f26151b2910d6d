"""What the simulator does beyond the driver contract: persistence, knobs, drift hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path

import pytest

from cloudplane.drivers.base import (
    DriverError,
    PowerState,
    RebootKind,
    ServerNotFound,
    ServerSpec,
)
from cloudplane.drivers.factory import build_driver
from cloudplane.drivers.network_contract import (
    AddressRange,
    FloatingIpSpec,
    NetworkSpec,
    PortSpec,
)
from cloudplane.drivers.simulator import CREATION_LOG, SIMULATOR_HOST, SimulatorDriver
from cloudplane.settings import Settings


def make_server_spec() -> ServerSpec:
    return ServerSpec(
        id=str(uuid.uuid4()), name="sim-test", vcpus=1, ram_mb=256, disk_gb=1, image=None
    )


def state_files(state_dir: Path) -> list[Path]:
    return sorted(path for path in state_dir.iterdir() if path.name != CREATION_LOG)


def seed_state_file(state_dir: Path, name: str, content: str) -> None:
    """Put a file in the state directory as a previous run could have left it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / name).write_text(content)


@contextlib.asynccontextmanager
async def opened_simulator(
    state_dir: Path,
    *,
    latency_ms: Mapping[str, int] | None = None,
    fail: Collection[str] = (),
    shared: bool = False,
) -> AsyncIterator[SimulatorDriver]:
    simulator = SimulatorDriver(state_dir, latency_ms=latency_ms, fail=fail, shared=shared)
    await simulator.open()
    try:
        yield simulator
    finally:
        await simulator.close()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "simulator"


@pytest.fixture
async def simulator(state_dir: Path) -> AsyncIterator[SimulatorDriver]:
    async with opened_simulator(state_dir) as simulator:
        yield simulator


# --- persistence ----------------------------------------------------------------------------


async def test_a_restarted_simulator_still_has_its_servers(state_dir: Path) -> None:
    running, stopped = make_server_spec(), make_server_spec()
    async with opened_simulator(state_dir) as before:
        await before.create_server(running)
        await before.create_server(stopped)
        await before.stop_server(stopped.id)

    async with opened_simulator(state_dir) as after:
        assert (await after.get_server(running.id)).power_state is PowerState.RUNNING
        assert (await after.get_server(stopped.id)).power_state is PowerState.SHUTDOWN
        assert {server.id for server in await after.list_servers()} == {running.id, stopped.id}


async def test_a_deleted_server_stays_deleted_after_a_restart(state_dir: Path) -> None:
    spec = make_server_spec()
    async with opened_simulator(state_dir) as before:
        await before.create_server(spec)
        await before.delete_server(spec.id)

    async with opened_simulator(state_dir) as after:
        assert await after.list_servers() == []


async def test_each_server_is_one_json_file_and_no_temp_file_remains(
    simulator: SimulatorDriver, state_dir: Path
) -> None:
    spec = make_server_spec()

    await simulator.create_server(spec)
    await simulator.pause_server(spec.id)

    [state_file] = state_files(state_dir)
    assert state_file.name == f"{spec.id}.json"
    assert json.loads(state_file.read_text())["power_state"] == "paused"


async def test_ids_with_path_characters_stay_inside_the_state_directory(
    simulator: SimulatorDriver, state_dir: Path
) -> None:
    spec = ServerSpec(
        id="../escape/attempt", name="odd", vcpus=1, ram_mb=256, disk_gb=1, image=None
    )

    await simulator.create_server(spec)

    [state_file] = state_files(state_dir)
    assert state_file.parent == state_dir
    assert (await simulator.get_server(spec.id)).id == spec.id


async def test_opening_drops_temp_files_left_by_an_interrupted_write(state_dir: Path) -> None:
    seed_state_file(state_dir, ".half-written.tmp", "{")
    an_hour_ago = time.time() - 3600
    os.utime(state_dir / ".half-written.tmp", (an_hour_ago, an_hour_ago))

    async with opened_simulator(state_dir) as simulator:
        assert state_files(state_dir) == []
        assert await simulator.list_servers() == []


async def test_opening_keeps_a_fresh_temp_file_another_process_may_be_writing(
    state_dir: Path,
) -> None:
    seed_state_file(state_dir, ".being-written.tmp", "{")

    async with opened_simulator(state_dir) as simulator:
        assert [path.name for path in state_files(state_dir)] == [".being-written.tmp"]
        assert await simulator.list_servers() == []


async def test_two_drivers_sharing_one_directory_see_each_others_servers(
    state_dir: Path,
) -> None:
    spec = make_server_spec()
    async with (
        opened_simulator(state_dir, shared=True) as first,
        opened_simulator(state_dir, shared=True) as second,
    ):
        await first.create_server(spec)
        assert [info.id for info in await second.list_servers()] == [spec.id]
        assert (await second.create_server(spec)).id == spec.id
        await second.stop_server(spec.id)
        assert (await first.get_server(spec.id)).power_state is PowerState.SHUTDOWN
        await first.delete_server(spec.id)
        with pytest.raises(ServerNotFound):
            await second.get_server(spec.id)

    # Made once, though both drivers were asked to create it.
    assert (state_dir / CREATION_LOG).read_text().split() == [spec.id]


async def test_an_unshared_driver_answers_from_memory_and_writes_through_to_disk(
    state_dir: Path,
) -> None:
    spec = make_server_spec()
    async with opened_simulator(state_dir) as simulator:
        await simulator.create_server(spec)
        # Its own directory: nobody else changes it, so it is not read again; the file that
        # vanished behind its back is still the server it knows.
        for path in state_files(state_dir):
            path.unlink()
        assert [info.id for info in await simulator.list_servers()] == [spec.id]
        await simulator.stop_server(spec.id)
        assert [path.name for path in state_files(state_dir)] == [f"{spec.id}.json"]
    async with opened_simulator(state_dir) as reopened:
        assert (await reopened.get_server(spec.id)).power_state is PowerState.SHUTDOWN


async def test_opening_over_a_corrupt_state_file_raises_driver_error(state_dir: Path) -> None:
    seed_state_file(state_dir, "broken.json", "not json")

    with pytest.raises(DriverError) as raised:
        await SimulatorDriver(state_dir).open()

    assert raised.value.code == "corrupt_state"


async def test_calls_before_open_raise_driver_error(state_dir: Path) -> None:
    simulator = SimulatorDriver(state_dir)

    with pytest.raises(DriverError) as raised:
        await simulator.list_servers()

    assert raised.value.code == "not_open"


async def test_concurrent_calls_on_one_server_leave_memory_and_disk_in_agreement(
    simulator: SimulatorDriver, state_dir: Path
) -> None:
    spec = make_server_spec()
    await asyncio.gather(*(simulator.create_server(spec) for _ in range(10)))

    await asyncio.gather(
        *(
            simulator.stop_server(spec.id) if n % 2 else simulator.start_server(spec.id)
            for n in range(20)
        )
    )

    in_memory = await simulator.get_server(spec.id)
    async with opened_simulator(state_dir) as restarted:
        assert await restarted.get_server(spec.id) == in_memory
    assert len(state_files(state_dir)) == 1


# --- reporting ------------------------------------------------------------------------------


async def test_servers_report_the_simulated_host(simulator: SimulatorDriver) -> None:
    info = await simulator.create_server(make_server_spec())

    assert info.host == SIMULATOR_HOST == "sim-host-1"


async def test_the_console_is_a_serial_console_named_after_the_server(
    simulator: SimulatorDriver,
) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)

    console = await simulator.get_console(spec.id)

    assert console.type == "serial"
    assert console.url == f"simulator://{spec.id}/console"


# --- invalid transitions --------------------------------------------------------------------


async def test_pausing_a_shut_down_server_is_an_invalid_state(simulator: SimulatorDriver) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)
    await simulator.stop_server(spec.id)

    with pytest.raises(DriverError) as raised:
        await simulator.pause_server(spec.id)

    assert raised.value.code == "invalid_state"


async def test_starting_a_paused_server_is_an_invalid_state(simulator: SimulatorDriver) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)
    await simulator.pause_server(spec.id)

    with pytest.raises(DriverError) as raised:
        await simulator.start_server(spec.id)

    assert raised.value.code == "invalid_state"
    assert (await simulator.get_server(spec.id)).power_state is PowerState.PAUSED


async def test_a_soft_reboot_of_a_shut_down_server_is_an_invalid_state(
    simulator: SimulatorDriver,
) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)
    await simulator.stop_server(spec.id)

    with pytest.raises(DriverError) as raised:
        await simulator.reboot_server(spec.id, RebootKind.SOFT)

    assert raised.value.code == "invalid_state"


async def test_stopping_a_paused_server_shuts_it_down(simulator: SimulatorDriver) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)
    await simulator.pause_server(spec.id)

    stopped = await simulator.stop_server(spec.id)

    assert stopped.power_state is PowerState.SHUTDOWN


# --- latency knob ---------------------------------------------------------------------------


async def test_an_operation_takes_at_least_its_configured_latency(state_dir: Path) -> None:
    async with opened_simulator(state_dir, latency_ms={"create_server": 50}) as simulator:
        started = time.monotonic()
        await simulator.create_server(make_server_spec())
        elapsed_s = time.monotonic() - started

    assert elapsed_s >= 0.05


async def test_the_default_latency_applies_to_operations_without_their_own(
    state_dir: Path,
) -> None:
    spec = make_server_spec()
    async with opened_simulator(state_dir, latency_ms={"*": 30, "create_server": 0}) as simulator:
        await simulator.create_server(spec)

        started = time.monotonic()
        await simulator.get_server(spec.id)
        elapsed_s = time.monotonic() - started

    assert elapsed_s >= 0.03


def test_a_latency_for_an_unknown_operation_is_rejected(state_dir: Path) -> None:
    with pytest.raises(ValueError, match="create_sever"):
        SimulatorDriver(state_dir, latency_ms={"create_sever": 10})


def test_a_negative_latency_is_rejected(state_dir: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        SimulatorDriver(state_dir, latency_ms={"*": -1})


# --- fault knob -----------------------------------------------------------------------------


async def test_an_injected_create_fault_raises_and_leaves_no_file(state_dir: Path) -> None:
    spec = make_server_spec()
    async with opened_simulator(state_dir, fail={"create_server"}) as simulator:
        with pytest.raises(DriverError) as raised:
            await simulator.create_server(spec)

        assert raised.value.code == "injected_fault"
        assert state_files(state_dir) == []
        with pytest.raises(ServerNotFound):
            await simulator.get_server(spec.id)


async def test_an_injected_fault_fails_only_the_named_operation(state_dir: Path) -> None:
    spec = make_server_spec()
    async with opened_simulator(state_dir, fail=["stop_server"]) as simulator:
        await simulator.create_server(spec)

        with pytest.raises(DriverError) as raised:
            await simulator.stop_server(spec.id)

        assert raised.value.code == "injected_fault"
        assert (await simulator.get_server(spec.id)).power_state is PowerState.RUNNING


def test_a_fault_for_an_unknown_operation_is_rejected(state_dir: Path) -> None:
    with pytest.raises(ValueError, match="explode"):
        SimulatorDriver(state_dir, fail={"explode"})


# --- drift hooks ----------------------------------------------------------------------------


async def test_set_power_state_changes_what_get_server_reports(
    simulator: SimulatorDriver, state_dir: Path
) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)

    await simulator.set_power_state(spec.id, PowerState.CRASHED)

    assert (await simulator.get_server(spec.id)).power_state is PowerState.CRASHED
    async with opened_simulator(state_dir) as restarted:
        assert (await restarted.get_server(spec.id)).power_state is PowerState.CRASHED


async def test_set_power_state_of_an_unknown_server_raises_server_not_found(
    simulator: SimulatorDriver,
) -> None:
    with pytest.raises(ServerNotFound):
        await simulator.set_power_state(str(uuid.uuid4()), PowerState.SHUTDOWN)


async def test_a_forgotten_server_vanishes_from_get_list_and_disk(
    simulator: SimulatorDriver, state_dir: Path
) -> None:
    spec = make_server_spec()
    await simulator.create_server(spec)

    await simulator.forget_server(spec.id)

    with pytest.raises(ServerNotFound):
        await simulator.get_server(spec.id)
    assert await simulator.list_servers() == []
    assert state_files(state_dir) == []


# --- factory --------------------------------------------------------------------------------


async def test_the_factory_builds_the_simulator_with_the_configured_knobs(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, driver="simulator", simulator_fail=["delete_server"])
    driver = build_driver(settings)
    await driver.open()

    created = await driver.create_server(make_server_spec())
    with pytest.raises(DriverError) as raised:
        await driver.delete_server(created.id)
    await driver.close()

    assert isinstance(driver, SimulatorDriver)
    assert raised.value.code == "injected_fault"
    assert [path.name for path in state_files(settings.simulator_dir)] == [f"{created.id}.json"]


def test_the_factory_refuses_a_libvirt_driver_without_hosts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, driver="libvirt", libvirt_hosts=" , ")

    with pytest.raises(ValueError, match="CLOUDPLANE_LIBVIRT_HOSTS"):
        build_driver(settings)


def _shared_network(prefix: str) -> NetworkSpec:
    """A /24 network ``<prefix>.0/24`` (``prefix`` like ``10.30.0``)."""
    return NetworkSpec(
        id=str(uuid.uuid4()),
        name="shared-net",
        cidr=f"{prefix}.0/24",
        gateway_ip=f"{prefix}.1",
        allocation_pools=(AddressRange(f"{prefix}.2", f"{prefix}.254"),),
    )


def _port_on(network: NetworkSpec, n: int) -> PortSpec:
    """The ``n``-th port (0 to 9) on a network from ``_shared_network``."""
    prefix = network.cidr.rsplit(".", 1)[0]
    return PortSpec(
        id=str(uuid.uuid4()),
        network_id=network.id,
        mac=f"fa:16:3e:00:00:0{n}",
        fixed_ips=(f"{prefix}.{10 + n}",),
    )


async def test_two_drivers_over_one_directory_share_networks_and_ports(state_dir: Path) -> None:
    network = _shared_network("10.30.0")
    async with (
        opened_simulator(state_dir, shared=True) as first,
        opened_simulator(state_dir, shared=True) as second,
    ):
        await first.create_network(network)
        ports = [_port_on(network, n) for n in range(6)]
        # Created concurrently through both drivers: none of the changes may be lost.
        await asyncio.gather(
            *((first if n % 2 else second).create_port(port) for n, port in enumerate(ports))
        )
        assert {p.id for p in await first.list_ports()} == {p.id for p in ports}
        assert [n.id for n in await second.list_networks()] == [network.id]


async def test_a_shared_change_reads_only_the_records_it_touches(state_dir: Path) -> None:
    network = _shared_network("10.31.0")
    damaged, mapped = _port_on(network, 1), _port_on(network, 2)
    floating_ip = FloatingIpSpec(
        id=str(uuid.uuid4()),
        ip="203.0.113.9",
        network_id=network.id,
        port_id=mapped.id,
        fixed_ip=mapped.fixed_ips[0],
    )
    async with (
        opened_simulator(state_dir, shared=True) as first,
        opened_simulator(state_dir, shared=True) as second,
    ):
        await first.create_network(network)
        await first.create_port(damaged)
        await first.create_port(mapped)
        await second.associate_floating_ip(floating_ip)
        # A change costs its own records however many others there are: one unreadable
        # record stops only what reads it.
        (state_dir / "network" / "ports" / f"{damaged.id}.json").write_text("{not json")

        await second.create_port(_port_on(network, 3))
        await second.delete_port(mapped.id)

        with pytest.raises(DriverError) as listing:
            await first.list_ports()
        assert listing.value.code == "corrupt_state"
        assert await first.list_floating_ips() == []
