"""Servers boot from a volume and on ports, as Nova block-device mappings and port ids."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.base import PowerState, ServerSpec
from cloudplane.drivers.network_contract import AddressRange, InterfaceSpec, NetworkSpec
from cloudplane.drivers.openstack.driver import OpenStackDriver
from cloudplane.drivers.openstack.status import power_state_of
from cloudplane.drivers.storage_contract import BlockDeviceSpec, ImageSource, VolumeSpec


def new_id() -> str:
    return str(uuid.uuid4())


async def test_a_server_boots_from_a_volume_on_a_port_made_for_it(
    driver: OpenStackDriver, cloud: Cloud, tmp_path: Path
) -> None:
    image_file = tmp_path / "disk.raw"
    image_file.write_bytes(b"\x01" * 8192)
    source = ImageSource(new_id(), str(image_file), "raw", virtual_size_bytes=8192)
    root = await driver.create_volume(VolumeSpec(new_id(), "root", 1, str(tmp_path), image=source))
    network = NetworkSpec(
        new_id(), "net", "10.9.0.0/24", "10.9.0.1", (AddressRange("10.9.0.2", "10.9.0.9"),)
    )
    await driver.create_network(network)
    interface = InterfaceSpec(new_id(), network.id, "fa:16:3e:12:34:56", ("10.9.0.5",))
    spec = ServerSpec(
        id=new_id(),
        name="boots-from-volume",
        vcpus=1,
        ram_mb=512,
        disk_gb=1,
        image=None,
        block_devices=(BlockDeviceSpec(root.id, "vda", boot=True),),
        interfaces=(interface,),
    )

    created = await driver.create_server(spec)

    nova = cloud.servers[str(created.backend_id)]
    assert nova["image"] == ""  # booted from the volume, not an image
    assert nova["flavor"]["original_name"] == "m1.tiny"
    attachment = (await driver.get_volume(root.id)).attachment
    assert attachment is not None
    assert (attachment.server_id, attachment.device) == (spec.id, "vda")
    port = {p.id: p for p in await driver.list_ports()}[interface.port_id]
    assert (port.mac, port.fixed_ips) == (interface.mac, interface.fixed_ips)
    assert cloud.ports[str(port.backend_id)]["device_id"] == created.backend_id
    assert cloud.image_data[source.image_id] == image_file.read_bytes()


@pytest.mark.parametrize(
    ("status", "power_state", "expected"),
    [
        ("ACTIVE", 1, PowerState.RUNNING),
        ("SHUTOFF", 4, PowerState.SHUTDOWN),
        ("PAUSED", 3, PowerState.PAUSED),
        ("SUSPENDED", 7, PowerState.SHUTDOWN),
        ("ERROR", 0, PowerState.CRASHED),
        ("BUILD", 0, PowerState.NOSTATE),
        ("REBOOT", 1, PowerState.RUNNING),
        ("HARD_REBOOT", 4, PowerState.SHUTDOWN),
    ],
)
def test_novas_statuses_map_onto_power_states(
    status: str, power_state: int, expected: PowerState
) -> None:
    server = SimpleNamespace(status=status, power_state=power_state)

    assert power_state_of(server) is expected
