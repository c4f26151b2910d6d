"""Typed builders for libvirt storage XML: dir pools and qcow2 volumes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DirPoolDefinition:
    """A ``dir`` storage pool: a directory of volume files."""

    name: str
    path: str

    def xml(self) -> str:
        pool = ET.Element("pool", type="dir")
        ET.SubElement(pool, "name").text = self.name
        target = ET.SubElement(pool, "target")
        ET.SubElement(target, "path").text = self.path
        return ET.tostring(pool, encoding="unicode")


@dataclass(frozen=True, slots=True)
class VolumeDefinition:
    """A qcow2 volume of ``capacity_bytes``, blank or an overlay on ``backing_path``."""

    name: str
    capacity_bytes: int
    backing_path: str | None = None
    backing_format: str = "qcow2"

    def xml(self) -> str:
        volume = ET.Element("volume")
        ET.SubElement(volume, "name").text = self.name
        ET.SubElement(volume, "capacity", unit="bytes").text = str(self.capacity_bytes)
        ET.SubElement(volume, "allocation", unit="bytes").text = "0"
        target = ET.SubElement(volume, "target")
        ET.SubElement(target, "format", type="qcow2")
        if self.backing_path is not None:
            backing = ET.SubElement(volume, "backingStore")
            ET.SubElement(backing, "path").text = self.backing_path
            ET.SubElement(backing, "format", type=self.backing_format)
        return ET.tostring(volume, encoding="unicode")


def pool_target_path(pool_xml: str) -> str | None:
    path = ET.fromstring(pool_xml).findtext("./target/path")
    return None if path is None else path.rstrip("/") or "/"
