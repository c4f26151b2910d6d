"""``/api/v1/hosts`` on the libvirt driver (libvirt's test hypervisor plus a host that is down)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.api import ApiSession
from tests.support.factories import active_server, new_member
from tests.support.libvirt_hosts import prefix_for, private_test_host

from cloudplane.hosts.refresh import refresh_hosts
from cloudplane.settings import Settings

# Nothing listens on the discard port, so this host never answers (connection refused).
SILENT_URI = "qemu+tcp://127.0.0.1:9/system"


@pytest.fixture
def test_host(tmp_path: Path) -> str:
    return private_test_host(tmp_path, cpus=12, memory_mib=4096)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, test_host: str) -> Settings:
    return settings.model_copy(
        update={
            "driver": "libvirt",
            "libvirt_hosts": f"{test_host},{SILENT_URI}",
            "libvirt_name_prefix": prefix_for(tmp_path),
        }
    )


async def hosts_by_uri(admin: ApiSession) -> dict[str, dict[str, Any]]:
    response = await admin.get("/hosts")
    assert response.status_code == 200, response.text
    return {host["uri"]: host for host in response.json()["items"]}


async def test_each_configured_host_is_registered_with_its_capacity_and_state(
    admin: ApiSession, test_host: str
) -> None:
    await refresh_hosts(admin.runtime)

    hosts = await hosts_by_uri(admin)

    assert set(hosts) == {test_host, SILENT_URI}
    answering, silent = hosts[test_host], hosts[SILENT_URI]
    assert (answering["state"], answering["error"]) == ("up", None)
    assert (answering["vcpus"], answering["memory_mb"], answering["free_memory_mb"]) == (
        12,
        4096,
        4096,
    )
    assert answering["last_seen_at"] is not None
    assert silent["state"] == "down"
    assert silent["error"]
    assert silent["last_seen_at"] is None


async def test_a_new_server_is_placed_on_the_answering_host_and_counted_there(
    admin: ApiSession, test_host: str
) -> None:
    await refresh_hosts(admin.runtime)

    server = await active_server(admin)
    await refresh_hosts(admin.runtime)

    host = (await hosts_by_uri(admin))[test_host]
    flavor = (await admin.get(f"/flavors/{server['flavor_id']}")).json()
    assert server["host"] == host["name"]
    assert host["free_memory_mb"] == 4096 - flavor["ram_mb"]
    assert (host["servers"], host["allocated_vcpus"], host["allocated_ram_mb"]) == (
        1,
        flavor["vcpus"],
        flavor["ram_mb"],
    )
    shown = (await admin.get(f"/hosts/{host['id']}")).json()
    assert shown == host


async def test_refreshing_twice_registers_each_host_once(admin: ApiSession, test_host: str) -> None:
    await refresh_hosts(admin.runtime)
    await refresh_hosts(admin.runtime)

    listed = (await admin.get("/hosts")).json()["items"]

    assert sorted(host["uri"] for host in listed) == sorted([test_host, SILENT_URI])


async def test_hosts_are_for_admins_only(admin: ApiSession) -> None:
    member = await new_member(admin, admin.project_id)

    assert (await member.get("/hosts")).status_code == 403
    assert (await admin.get("/hosts/not-a-host")).status_code == 404
