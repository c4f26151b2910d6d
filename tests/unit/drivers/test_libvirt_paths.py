"""Relative paths (the default data directory is ``./var``) reach libvirt made absolute."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.support.libvirt_hosts import prefix_for, private_test_host

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.libvirt.pools import find_volume_anywhere
from cloudplane.drivers.storage_contract import GIB, ImageSource, VolumeSpec


@pytest.fixture
def in_scratch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from ``tmp_path``, with an image file at the relative path ``var/images/tiny``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var/images").mkdir(parents=True)
    (tmp_path / "var/images/tiny").write_bytes(bytes(512))


@pytest.mark.usefixtures("in_scratch_dir")
async def test_a_volume_from_an_image_with_relative_paths_names_absolute_ones(
    tmp_path: Path,
) -> None:
    uri = private_test_host(tmp_path, cpus=1, memory_mib=1024)
    driver = LibvirtDriver(
        LibvirtOptions(uri=uri, state_dir=tmp_path / "state", name_prefix=prefix_for(tmp_path))
    )
    await driver.open()
    spec = VolumeSpec(
        id=str(uuid.uuid4()),
        name="boot",
        size_gb=1,
        pool_path="var/volumes",
        image=ImageSource("tiny", "var/images/tiny", "raw", virtual_size_bytes=GIB),
    )
    try:
        await driver.create_volume(spec)
        # The driver's own connection: a test host from a node file is private to it.
        host = driver._host.get()
        volume = find_volume_anywhere(host, driver.options.volume_name(spec.id))
        assert volume is not None
        pool_xml = ET.fromstring(volume.storagePoolLookupByVolume().XMLDesc(0))
        volume_xml = ET.fromstring(volume.XMLDesc(0))
    finally:
        await driver.close()

    assert pool_xml.findtext("target/path") == str(tmp_path / "var/volumes")
    assert volume_xml.findtext("backingStore/path") == str(tmp_path / "var/images/tiny")
