"""cloudplane in front of an OpenStack cloud: servers built there, drift noticed there."""

from __future__ import annotations

from tests.openstack_cloud.state import Cloud
from tests.support.api import ApiSession
from tests.support.factories import active_server, create_server

from cloudplane.compute.reconciler import reconcile_servers
from cloudplane.drivers.openstack.driver import OpenStackDriver


def _driver(admin: ApiSession) -> OpenStackDriver:
    driver = admin.runtime.driver
    assert isinstance(driver, OpenStackDriver)
    return driver


async def _backend_id(admin: ApiSession, server_id: str) -> str:
    backend_id = (await _driver(admin).get_server(server_id)).backend_id
    assert backend_id is not None
    return backend_id


async def test_a_server_is_built_in_the_cloud_from_cloudplanes_image(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)

    nova = cloud.servers[await _backend_id(admin, server["id"])]
    assert nova["metadata"]["cloudplane_id"] == server["id"]
    assert nova["status"] == "ACTIVE"
    glance_image = cloud.images[nova["image"]["id"]]
    assert glance_image["id"] == server["image_id"]
    assert cloud.image_data[glance_image["id"]]  # cloudplane's file was uploaded


async def test_a_server_deleted_in_the_cloud_shows_error_vanished(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)
    await _driver(admin).list_servers()

    cloud.delete_server_behind_the_back(await _backend_id(admin, server["id"]))

    assert await reconcile_servers(admin.runtime) == 1
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["fault"]["code"]) == ("ERROR", "vanished")


async def test_a_server_in_error_in_the_cloud_shows_error_with_the_clouds_fault(
    admin: ApiSession, cloud: Cloud
) -> None:
    server = await active_server(admin)

    cloud.crash_server(await _backend_id(admin, server["id"]), "Host compute-7 is down")

    assert await reconcile_servers(admin.runtime) == 1
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"] == "Host compute-7 is down"


async def test_a_server_stopped_in_the_cloud_shows_shutoff(admin: ApiSession, cloud: Cloud) -> None:
    server = await active_server(admin)
    backend_id = await _backend_id(admin, server["id"])
    cloud.servers[backend_id].update(
        {"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:power_state": 4}
    )
    cloud.touch(cloud.servers[backend_id])

    assert await reconcile_servers(admin.runtime) == 1
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"]) == ("SHUTOFF", "shutdown")


async def test_a_cloud_quota_refusal_shows_as_a_quota_exceeded_fault(
    admin: ApiSession, cloud: Cloud
) -> None:
    cloud.quotas.instances = 0

    server = await create_server(admin)
    await admin.settle()

    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert shown["fault"]["code"] == "quota_exceeded"
    assert "Quota exceeded for instances" in shown["fault"]["message"]
    assert cloud.servers == {}


async def test_a_failed_build_shows_the_clouds_fault_message(
    admin: ApiSession, cloud: Cloud
) -> None:
    cloud.failing_build_message = "No valid host was found."

    server = await create_server(admin)
    await admin.settle()

    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert "No valid host was found." in shown["fault"]["message"]
    assert cloud.servers == {}


async def test_servers_of_the_default_group_are_its_neutron_address_groups_addresses(
    admin: ApiSession, cloud: Cloud
) -> None:
    first, second = await active_server(admin), await active_server(admin)
    (port,) = [(await admin.get(f"/ports/{a['port_id']}")).json() for a in first["addresses"]]
    (default_group,) = port["security_groups"]

    (address_group,) = [
        g for g in cloud.address_groups.values() if g["name"] == f"cloudplane-group-{default_group}"
    ]
    ips = {a["ip"] for server in (first, second) for a in server["addresses"]}
    assert set(address_group["addresses"]) == {f"{ip}/32" for ip in ips}

    assert (await admin.delete(f"/servers/{second['id']}")).status_code == 202
    await admin.settle()
    assert address_group["addresses"] == [f"{a['ip']}/32" for a in first["addresses"]]
