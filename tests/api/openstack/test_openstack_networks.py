"""Networks, ports and floating IPs made through the API land in Neutron as cloudplane chose."""

from __future__ import annotations

from tests.api.network.network_factories import allocate_floating_ip
from tests.openstack_cloud.state import Cloud
from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.network.port_reconciler import reconcile_ports


async def test_a_servers_port_and_floating_ip_are_neutrons_with_cloudplanes_addresses(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)
    ports = (await admin.get("/ports", params={"device_id": server["id"]})).json()["items"]
    assert len(ports) == 1
    port = ports[0]
    floating_ip = await allocate_floating_ip(admin)

    response = await admin.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": server["id"]}
    )
    assert response.status_code == 202, response.text
    await admin.settle()

    neutron_port = next(p for p in cloud.ports.values() if p["name"] == f"cloudplane-{port['id']}")
    assert neutron_port["mac_address"] == port["mac"]
    assert [ip["ip_address"] for ip in neutron_port["fixed_ips"]] == port["fixed_ips"]
    nova_id = next(
        s["id"] for s in cloud.servers.values() if s["metadata"]["cloudplane_id"] == server["id"]
    )
    assert neutron_port["device_id"] == nova_id
    neutron_ip = next(
        f
        for f in cloud.floating_ips.values()
        if f["description"] == f"cloudplane:{floating_ip['id']}"
    )
    assert neutron_ip["floating_ip_address"] == floating_ip["ip"]
    assert (neutron_ip["port_id"], neutron_ip["fixed_ip_address"]) == (
        neutron_port["id"],
        port["fixed_ips"][0],
    )
    shown = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert shown["status"] == "ACTIVE"


async def test_a_reconcile_round_finds_neutron_as_cloudplane_left_it_and_rebuilds_a_lost_port(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)
    (address,) = server["addresses"]

    # The server's rules (the default group's, one of them by peer group) read back unchanged.
    assert await reconcile_ports(admin.runtime) == 0

    name = f"cloudplane-{address['port_id']}"
    lost = next(port_id for port_id, port in cloud.ports.items() if port["name"] == name)
    del cloud.ports[lost]
    assert await reconcile_ports(admin.runtime) == 1
    (rebuilt,) = [port for port in cloud.ports.values() if port["name"] == name]
    assert rebuilt["mac_address"] == address["mac"]
    assert [ip["ip_address"] for ip in rebuilt["fixed_ips"]] == [address["ip"]]
    assert await reconcile_ports(admin.runtime) == 0
