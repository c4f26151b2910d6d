"""Through the API on the libvirt driver: ports, boot volumes, and drift seen at once.

The periodic reconcile is set far out of reach here, so only libvirt's lifecycle events can make
what an operator does with virsh visible within the deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from cloudplane.drivers.libvirt.domain_xml import console_log_path
from cloudplane.drivers.libvirt.filter_xml import port_filter_xml
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat
from cloudplane.drivers.libvirt.peer_sets import PeerSets
from cloudplane.drivers.storage_contract import GIB
from cloudplane.images.tiny_image import TINY_IMAGE_CONSOLE_LINE
from cloudplane.network.floating_ip_reconciler import reconcile_floating_ips
from cloudplane.network.group_peers import reconcile_group_peers
from cloudplane.network.port_reconciler import reconcile_ports
from cloudplane.settings import Settings
from tests.api.network.network_factories import associated_floating_ip
from tests.libvirt_real.conftest import SHUTDOWN_TIMEOUT_S
from tests.libvirt_real.waiting import console_lines, eventually
from tests.support.api import ApiSession
from tests.support.factories import active_server, create_server
from tests.support.libvirt_hosts import (
    REAL_URI,
    let_qemu_reach,
    prefix_for,
    remove_test_objects,
)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, host: object) -> Settings:
    """The usual test settings, on the libvirt driver with events and no periodic reconcile."""
    return settings.model_copy(
        update={
            "driver": "libvirt",
            "libvirt_hosts": REAL_URI,
            "libvirt_virt_type": "qemu",
            "libvirt_name_prefix": prefix_for(tmp_path),
            "libvirt_shutdown_timeout_s": SHUTDOWN_TIMEOUT_S,
            "run_scheduler": True,
            "reconcile_interval_s": 3600.0,
        }
    )


@pytest.fixture(autouse=True)
def removed_afterwards(host: libvirt.virConnect, tmp_path: Path) -> Iterator[None]:
    """What the API made on the host goes with the test (set up first, so torn down last)."""
    yield
    remove_test_objects(host, prefix_for(tmp_path))


async def virsh(*args: str) -> None:
    command = ["virsh", "-q", "-c", REAL_URI, *args]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def booted_server(admin: ApiSession, settings: Settings) -> tuple[dict[str, Any], str]:
    let_qemu_reach(settings.images_dir)
    server = await active_server(admin)
    assert server["power_state"] == "running"
    assert server["host"]
    return server, f"{settings.libvirt_name_prefix}{server['id']}"


async def shown(admin: ApiSession, server_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await admin.get(f"/servers/{server_id}")).json()
    return body


async def test_the_servers_port_is_a_nic_with_its_mac_and_a_static_dhcp_host_for_its_ip(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    server, domain = await booted_server(admin, settings)
    (address,) = server["addresses"]

    live = ET.fromstring(host.lookupByName(domain).XMLDesc(0))
    network_name = f"{settings.libvirt_name_prefix}net-{address['network_id']}"
    network = ET.fromstring(host.networkLookupByName(network_name).XMLDesc(0))

    nic = live.find("./devices/interface")
    assert nic is not None
    assert nic.find("mac").get("address") == address["mac"]  # type: ignore[union-attr]
    assert nic.find("source").get("network") == network_name  # type: ignore[union-attr]
    assert network.find("forward") is None  # isolated by default
    hosts = [(h.get("mac"), h.get("ip")) for h in network.iterfind("./ip/dhcp/host")]
    assert (address["mac"], address["ip"]) in hosts


async def test_a_domain_destroyed_with_virsh_shows_shutoff(
    admin: ApiSession, settings: Settings
) -> None:
    server, domain = await booted_server(admin, settings)

    await virsh("destroy", domain)

    after = await eventually(
        lambda: shown(admin, server["id"]), lambda body: body["status"] == "SHUTOFF", within_s=10
    )
    assert after["power_state"] == "shutdown"


async def test_a_domain_undefined_with_virsh_shows_error_with_a_fault(
    admin: ApiSession, settings: Settings
) -> None:
    server, domain = await booted_server(admin, settings)

    await virsh("destroy", domain)
    await virsh("undefine", domain)

    after = await eventually(
        lambda: shown(admin, server["id"]), lambda body: body["status"] == "ERROR", within_s=10
    )
    assert after["power_state"] == "nostate"
    assert after["fault"]["code"] == "vanished"
    deleted = await admin.delete(f"/servers/{server['id']}")  # an ERROR server can be deleted
    assert deleted.status_code == 202
    await admin.settle()


async def test_a_server_boots_from_a_volume_made_from_the_image(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    let_qemu_reach(settings.images_dir)
    server = await create_server(admin, boot_volume={"size_gb": 2})
    await admin.settle()
    shown_server = await shown(admin, server["id"])
    assert shown_server["status"] == "ACTIVE", shown_server
    (boot,) = [volume for volume in shown_server["volumes"] if volume["boot"]]
    domain = host.lookupByName(f"{settings.libvirt_name_prefix}{server['id']}")

    log = console_log_path(domain.XMLDesc(0))
    assert log is not None
    await eventually(lambda: console_lines(log, TINY_IMAGE_CONSOLE_LINE), lambda n: n == 1)
    capacity, _allocation, _physical = domain.blockInfo(boot["device"])
    assert capacity == 2 * GIB
    assert (await admin.get(f"/volumes/{boot['volume_id']}")).json()["status"] == "in-use"


async def test_a_network_undefined_with_virsh_is_built_again_with_its_ports_by_a_reconcile(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    server, _ = await booted_server(admin, settings)
    (address,) = server["addresses"]
    network_name = f"{settings.libvirt_name_prefix}net-{address['network_id']}"

    await virsh("net-destroy", network_name)
    await virsh("net-undefine", network_name)
    assert await reconcile_ports(admin.runtime) == 1

    network = ET.fromstring(host.networkLookupByName(network_name).XMLDesc(0))
    hosts = [(h.get("mac"), h.get("ip")) for h in network.iterfind("./ip/dhcp/host")]
    assert hosts == [(address["mac"], address["ip"])]
    # The guest's interface is plugged into the network again when it is next started.
    rebooted = await admin.post(f"/servers/{server['id']}/reboot", json={"type": "hard"})
    assert rebooted.status_code == 202
    await admin.settle()
    after = await shown(admin, server["id"])
    assert (after["status"], after["power_state"]) == ("ACTIVE", "running")


def _host_firewall(device: str, chain: str = "FO") -> str:
    """The host's IPv4 rules for traffic towards the guest interface ``device`` (libvirt's
    ``FO-<device>`` chain), or from it (``FI``)."""
    listed = subprocess.run(
        ["iptables", "-S", f"{chain}-{device}"], capture_output=True, text=True, check=True
    )
    return listed.stdout


async def test_a_servers_security_groups_are_its_nics_filter_and_reach_the_host_firewall(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    server, domain = await booted_server(admin, settings)
    (address,) = server["addresses"]
    filter_name = f"{settings.libvirt_name_prefix}port-{address['port_id']}"
    nic = ET.fromstring(host.lookupByName(domain).XMLDesc(0)).find("./devices/interface")
    assert nic is not None
    assert nic.find("filterref").get("filter") == filter_name  # type: ignore[union-attr]
    device = nic.find("target").get("dev")  # type: ignore[union-attr]
    assert device is not None
    assert "--dport 22" not in _host_firewall(device)
    # The guest cannot send from an address that is not its port's.
    assert f"! -s {address['ip']}/32 -j DROP" in _host_firewall(device, chain="FI")

    port = (await admin.get(f"/ports/{address['port_id']}")).json()
    (group_id,) = port["security_groups"]
    added = await admin.post(
        f"/security-groups/{group_id}/rules",
        json={
            "direction": "ingress",
            "protocol": "tcp",
            "port_min": 22,
            "port_max": 22,
            "remote_cidr": "192.0.2.0/24",
        },
    )
    assert added.status_code == 201, added.text
    await admin.settle()

    # The running guest's firewall changed with the filter; no restart was needed.
    assert "-s 192.0.2.0/24 -p tcp -m tcp --dport 22" in _host_firewall(device)
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}
    assert added.json()["id"] in {rule.id for rule in backend[address["port_id"]].security_rules}

    # An operator empties the filter by hand; the next reconcile puts the rules back.
    emptied = host.nwfilterLookupByName(filter_name)
    host.nwfilterDefineXML(
        port_filter_xml(filter_name, [], address=address["ip"], uuid=emptied.UUIDString())
    )
    assert "--dport 22" not in _host_firewall(device)
    assert await reconcile_ports(admin.runtime) == 1
    await admin.settle()
    assert "-s 192.0.2.0/24 -p tcp -m tcp --dport 22" in _host_firewall(device)

    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert filter_name not in {f.name() for f in host.listAllNWFilters(0)}


def _ipset_members(set_name: str) -> set[str]:
    """The entries of the host kernel's ipset ``set_name`` (what ``ipset save`` prints): addresses,
    or address,protocol:port pairs."""
    saved = subprocess.run(["ipset", "save", set_name], capture_output=True, text=True, check=True)
    return {line.split()[2] for line in saved.stdout.splitlines() if line.startswith("add ")}


def _ipset(*args: str) -> None:
    subprocess.run(["ipset", *args], capture_output=True, text=True, check=True)


async def test_servers_of_one_group_are_each_others_peers_in_the_host_firewall(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    first, domain = await booted_server(admin, settings)
    second, _ = await booted_server(admin, settings)
    (first_address,), (second_address,) = first["addresses"], second["addresses"]
    port = (await admin.get(f"/ports/{first_address['port_id']}")).json()
    (default_group,) = port["security_groups"]
    peer_set = PeerSets(settings.libvirt_name_prefix).set_name(default_group, 4)

    # The default group admits its members: one ipset that each member's filter names.
    assert _ipset_members(peer_set) == {first_address["ip"], second_address["ip"]}
    nic = ET.fromstring(host.lookupByName(domain).XMLDesc(0)).find("./devices/interface/target")
    assert nic is not None
    device = nic.get("dev")
    assert device is not None
    assert f"-m set --match-set {peer_set} src" in _host_firewall(device)
    # A rule with a port range matches a set of (member, port) pairs of its own.
    added = await admin.post(
        f"/security-groups/{default_group}/rules",
        json={
            "direction": "ingress",
            "protocol": "tcp",
            "port_min": 5432,
            "port_max": 5432,
            "remote_group_id": default_group,
        },
    )
    assert added.status_code == 201, added.text
    await admin.settle()
    pairs = PeerSets(settings.libvirt_name_prefix).pair_set_name(added.json()["id"], 4)
    assert f"-m set --match-set {pairs} src,dst" in _host_firewall(device)
    assert _ipset_members(pairs) == {
        f"{first_address['ip']},tcp:5432",
        f"{second_address['ip']},tcp:5432",
    }

    assert (await admin.delete(f"/servers/{second['id']}")).status_code == 202
    await admin.settle()
    assert _ipset_members(peer_set) == {first_address["ip"]}
    assert _ipset_members(pairs) == {f"{first_address['ip']},tcp:5432"}

    # An operator empties the set by hand; the next reconcile fills it again.
    _ipset("flush", peer_set)
    assert await reconcile_group_peers(admin.runtime) == 1
    assert _ipset_members(peer_set) == {first_address["ip"]}

    # A host restart loses every set. A stopped guest's filter names its sets, and libvirt
    # cannot start a guest whose filter names a missing set: the start makes them first.
    stopped = await admin.post(f"/servers/{first['id']}/stop")
    assert stopped.status_code == 202, stopped.text
    await admin.settle()
    for version in (4, 6):
        _ipset("destroy", PeerSets(settings.libvirt_name_prefix).set_name(default_group, version))
    started = await admin.post(f"/servers/{first['id']}/start")
    assert started.status_code == 202, started.text
    await admin.settle()
    assert (await shown(admin, first["id"]))["power_state"] == "running"
    assert await reconcile_group_peers(admin.runtime) == 1
    assert _ipset_members(peer_set) == {first_address["ip"]}

    # The running guest's filter names the set, so deleting the group's peers empties it.
    await admin.runtime.driver.delete_group_peers(default_group)
    assert _ipset_members(peer_set) == set()
    assert await reconcile_group_peers(admin.runtime) == 1
    assert _ipset_members(peer_set) == {first_address["ip"]}


async def test_a_server_defined_without_its_filter_gets_it_at_its_next_start(
    admin: ApiSession, settings: Settings, host: libvirt.virConnect
) -> None:
    server, domain = await booted_server(admin, settings)
    (address,) = server["addresses"]
    filter_name = f"{settings.libvirt_name_prefix}port-{address['port_id']}"
    assert (await admin.post(f"/servers/{server['id']}/stop")).status_code == 202
    await admin.settle()
    # As a server defined before ports were filtered here: no filterref, and no filter.
    definition = ET.fromstring(host.lookupByName(domain).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    interface = definition.find("./devices/interface")
    assert interface is not None
    interface.remove(interface.find("filterref"))  # type: ignore[arg-type]
    host.defineXML(ET.tostring(definition, encoding="unicode"))
    host.nwfilterLookupByName(filter_name).undefine()

    assert (await admin.post(f"/servers/{server['id']}/start")).status_code == 202
    await admin.settle()

    assert (await shown(admin, server["id"]))["power_state"] == "running"
    nic = ET.fromstring(host.lookupByName(domain).XMLDesc(0)).find("./devices/interface")
    assert nic is not None
    assert nic.find("filterref").get("filter") == filter_name  # type: ignore[union-attr]
    # The filter it got admits only addressing; the next reconcile pushes the port's rules.
    assert await reconcile_ports(admin.runtime) == 1
    await admin.settle()
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}
    assert backend[address["port_id"]].security_rules


async def test_a_servers_floating_ip_is_a_nat_rule_on_the_host_kept_by_the_reconciler(
    admin: ApiSession, settings: Settings
) -> None:
    server, _domain = await booted_server(admin, settings)
    (address,) = server["addresses"]
    floating_ip = await associated_floating_ip(admin, server_id=server["id"])
    assert floating_ip["status"] == "ACTIVE"
    assert (await shown(admin, server["id"]))["floating_ips"] == [
        {"id": floating_ip["id"], "ip": floating_ip["ip"]}
    ]
    nat = FloatingIpNat(settings.libvirt_name_prefix)
    dnat = f"-d {floating_ip['ip']}/32 "
    assert _nat_rules(nat.dnat_chain) == [dnat + f"--to-destination {address['ip']}"]

    # A host restart loses the rules; the next reconcile makes them again.
    nat.remove()
    assert await reconcile_floating_ips(admin.runtime) == 1
    assert _nat_rules(nat.dnat_chain) == [dnat + f"--to-destination {address['ip']}"]

    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert _nat_rules(nat.dnat_chain) == []


def _nat_rules(chain: str) -> list[str]:
    """The DNAT rules of ``chain`` on the host, as ``-d <floating> --to-destination <fixed>``."""
    listing = subprocess.run(
        ["iptables", "-t", "nat", "-S", chain], capture_output=True, text=True, check=True
    ).stdout
    rules = []
    for line in listing.splitlines():
        words = line.split()
        if words[:2] == ["-A", chain]:
            rules.append(f"-d {words[words.index('-d') + 1]} --to-destination {words[-1]}")
    return rules
