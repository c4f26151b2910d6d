"""The simulator's networking state on disk: one file per record, kept across restarts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.unit.drivers.test_simulator import opened_simulator

from cloudplane.drivers.network_contract import FloatingIpSpec, NetworkSpec, PortSpec


def network_spec() -> NetworkSpec:
    return NetworkSpec(
        id=str(uuid.uuid4()),
        name="net",
        cidr="10.30.0.0/24",
        gateway_ip="10.30.0.1",
        allocation_pools=(),
    )


def port_spec(network_id: str, ip: str) -> PortSpec:
    return PortSpec(
        id=str(uuid.uuid4()), network_id=network_id, mac="fa:16:3e:00:00:02", fixed_ips=(ip,)
    )


async def test_networks_ports_and_floating_ips_survive_a_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    network = network_spec()
    kept, dropped = port_spec(network.id, "10.30.0.5"), port_spec(network.id, "10.30.0.6")
    floating = FloatingIpSpec(
        id=str(uuid.uuid4()),
        ip="192.0.2.9",
        network_id=str(uuid.uuid4()),
        port_id=kept.id,
        fixed_ip="10.30.0.5",
    )
    async with opened_simulator(state_dir) as simulator:
        await simulator.create_network(network)
        await simulator.create_port(kept)
        await simulator.create_port(dropped)
        await simulator.associate_floating_ip(floating)
        await simulator.delete_port(dropped.id)

    async with opened_simulator(state_dir) as restarted:
        assert [n.id for n in await restarted.list_networks()] == [network.id]
        assert [p.id for p in await restarted.list_ports()] == [kept.id]
        assert [(f.id, f.port_id) for f in await restarted.list_floating_ips()] == [
            (floating.id, kept.id)
        ]


async def test_a_port_costs_one_small_file_however_many_ports_exist(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    network = network_spec()
    async with opened_simulator(state_dir) as simulator:
        await simulator.create_network(network)
        for host in range(2, 52):
            await simulator.create_port(port_spec(network.id, f"10.30.0.{host}"))
        last = port_spec(network.id, "10.30.0.99")
        await simulator.create_port(last)

    port_files = list((state_dir / "network" / "ports").glob("*.json"))
    assert len(port_files) == 51
    assert json.loads((state_dir / "network" / "ports" / f"{last.id}.json").read_text())[
        "fixed_ips"
    ] == ["10.30.0.99"]


async def test_the_single_document_of_earlier_versions_is_split_into_records(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "simulator"
    network = network_spec()
    port = port_spec(network.id, "10.30.0.7")
    legacy = state_dir / "network" / "state.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(
        json.dumps(
            {
                "format": 1,
                "networks": [
                    {
                        "id": network.id,
                        "name": network.name,
                        "cidr": network.cidr,
                        "gateway_ip": network.gateway_ip,
                        "allocation_pools": [],
                        "external": False,
                        "shared": False,
                    }
                ],
                "ports": [
                    {
                        "id": port.id,
                        "network_id": network.id,
                        "mac": port.mac,
                        "fixed_ips": list(port.fixed_ips),
                        "device_id": None,
                        "security_rules": [],
                    }
                ],
                "floating_ips": [],
            }
        )
    )

    async with opened_simulator(state_dir) as simulator:
        assert [p.id for p in await simulator.list_ports()] == [port.id]
        assert [n.id for n in await simulator.list_networks()] == [network.id]

    assert not legacy.exists()
    assert (state_dir / "network" / "ports" / f"{port.id}.json").exists()
