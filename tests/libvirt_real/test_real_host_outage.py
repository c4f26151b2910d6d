"""A host that stops answering is marked down and its servers' power state unknown, until it
answers again.

The host is the real daemon reached over TCP through a relay the test can cut, which is what a
network failure between cloudplane and a remote host looks like to libvirt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from cloudplane.compute.reconciler import reconcile_servers
from cloudplane.hosts.refresh import refresh_hosts
from cloudplane.settings import Settings
from tests.libvirt_real.conftest import SHUTDOWN_TIMEOUT_S
from tests.support.api import ApiSession
from tests.support.factories import active_server
from tests.support.libvirt_hosts import let_qemu_reach, prefix_for, remove_test_objects
from tests.support.socket_relay import SocketRelay


@pytest.fixture
def relay(host: libvirt.virConnect) -> Iterator[SocketRelay]:
    relay = SocketRelay("/run/libvirt/libvirt-sock")
    yield relay
    relay.cut()


@pytest.fixture(autouse=True)
def removed_afterwards(host: libvirt.virConnect, tmp_path: Path) -> Iterator[None]:
    yield
    # Seen as a remote host, its console logs go to libvirt's log directory: removed too.
    remove_test_objects(host, prefix_for(tmp_path))


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, relay: SocketRelay) -> Settings:
    return settings.model_copy(
        update={
            "driver": "libvirt",
            "libvirt_hosts": f"qemu+tcp://127.0.0.1:{relay.port}/system",
            "libvirt_virt_type": "qemu",
            "libvirt_name_prefix": prefix_for(tmp_path),
            "libvirt_shutdown_timeout_s": SHUTDOWN_TIMEOUT_S,
        }
    )


async def the_host(admin: ApiSession) -> dict[str, Any]:
    items: list[dict[str, Any]] = (await admin.get("/hosts")).json()["items"]
    assert len(items) == 1
    return items[0]


async def test_a_host_that_stops_answering_is_down_and_its_servers_power_state_unknown(
    admin: ApiSession, settings: Settings, relay: SocketRelay
) -> None:
    let_qemu_reach(settings.images_dir)
    server = await active_server(admin)
    await refresh_hosts(admin.runtime)
    assert (await the_host(admin))["state"] == "up"

    relay.cut()
    await refresh_hosts(admin.runtime)

    host = await the_host(admin)
    assert host["state"] == "down"
    assert host["error"]
    assert host["name"] == server["host"]  # still known by the name it had
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"]) == ("ACTIVE", "nostate")

    back = SocketRelay("/run/libvirt/libvirt-sock", port=relay.port)
    try:
        await refresh_hosts(admin.runtime)
        assert await reconcile_servers(admin.runtime) == 1
    finally:
        back.cut()

    assert (await the_host(admin))["state"] == "up"
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"]) == ("ACTIVE", "running")
