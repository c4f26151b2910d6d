"""What the libvirt driver does not offer on libvirt's test hypervisor answers 501 before any
work starts: floating IPs and security groups (the test hypervisor has no firewall of its own;
a real local host offers both, see ``tests/libvirt_real``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.libvirt_hosts import prefix_for, private_test_host

from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "driver": "libvirt",
            "libvirt_hosts": private_test_host(tmp_path, cpus=2, memory_mib=2048),
            "libvirt_name_prefix": prefix_for(tmp_path),
        }
    )


async def test_the_version_names_the_libvirt_driver_and_what_it_offers(admin: ApiSession) -> None:
    version = (await admin.client.get("/api/v1/version")).json()

    assert version["driver"] == "libvirt"
    assert {"console", "pause", "snapshots", "soft_reboot"} <= set(version["capabilities"])
    assert not {"floating_ips", "security_groups"} & set(version["capabilities"])


async def test_floating_ips_and_security_groups_answer_501(admin: ApiSession) -> None:
    assert_error(await admin.post("/floating-ips", json={}), 501, "not_supported")
    assert_error(await admin.get("/floating-ips"), 501, "not_supported")
    assert_error(await admin.post("/security-groups", json={"name": "web"}), 501, "not_supported")
