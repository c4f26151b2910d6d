"""Through the API on the libvirt driver: what an operator does with virsh shows up at once.

The periodic reconcile is set far out of reach here, so only libvirt's lifecycle events can make
the change visible within the deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from cloudplane.settings import Settings
from tests.libvirt_real.conftest import SHUTDOWN_TIMEOUT_S
from tests.libvirt_real.waiting import eventually
from tests.support.api import ApiSession
from tests.support.factories import active_server
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
