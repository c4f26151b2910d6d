"""Making a pool or network run, and ports on it, from several threads or tasks at once: the
ones that lose a race find what the winner made, and nothing is made twice."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.pools import ensure_dir_pool
from tests.contract.test_network_driver_contract import network_spec, port_spec

THREADS = 8
ROUNDS = 5


def test_threads_finding_one_pool_stopped_all_get_it_running(
    driver: LibvirtDriver, host: libvirt.virConnect, tmp_path: Path
) -> None:
    name = f"{driver.options.name_prefix}pool-race"
    directory = tmp_path / "race-pool"
    pool = ensure_dir_pool(host, name, directory)

    def start(barrier: threading.Barrier) -> bool:
        barrier.wait()
        return bool(ensure_dir_pool(host, name, directory).isActive())

    for _ in range(ROUNDS):
        pool.destroy()
        barrier = threading.Barrier(THREADS)
        with ThreadPoolExecutor(THREADS) as threads:
            started = list(threads.map(start, [barrier] * THREADS))

        assert started == [True] * THREADS
    assert [p.name() for p in host.listAllStoragePools(0)].count(name) == 1


async def test_concurrent_creates_of_one_network_and_one_port_make_one_of_each(
    driver: LibvirtDriver,
) -> None:
    network = network_spec()
    port = port_spec(network.id)

    networks = await asyncio.gather(*(driver.create_network(network) for _ in range(THREADS)))
    ports = await asyncio.gather(*(driver.create_port(port) for _ in range(THREADS)))

    assert {n.backend_id for n in networks} == {networks[0].backend_id}
    assert {p.id for p in ports} == {port.id}
    listed = [p for p in await driver.list_ports() if p.id == port.id]
    assert len(listed) == 1


async def test_two_drivers_over_one_state_directory_take_turns_as_two_processes_would(
    driver: LibvirtDriver,
) -> None:
    other = LibvirtDriver(driver.options)
    await other.open()
    try:
        network = network_spec()
        port = port_spec(network.id)
        both = (driver, other) * (THREADS // 2)

        await asyncio.gather(*(d.create_network(network) for d in both))
        await asyncio.gather(*(d.create_port(port) for d in both))

        listed = [p for p in await other.list_ports() if p.id == port.id]
        assert len(listed) == 1
    finally:
        await other.close()
