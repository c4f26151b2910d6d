"""Finding and making dir storage pools and the volumes in them (blocking calls)."""

from __future__ import annotations

from pathlib import Path

import libvirt

from cloudplane.drivers.libvirt.connection import is_missing, start_unless_running
from cloudplane.drivers.libvirt.volume_xml import DirPoolDefinition, pool_target_path


def ensure_dir_pool(
    connection: libvirt.virConnect, name: str, path: Path
) -> libvirt.virStoragePool:
    """The running dir pool ``name`` over ``path``: defined, built and started when needed."""
    try:
        pool = connection.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if not is_missing(exc):
            raise
        pool = _define_dir_pool(connection, name, path)
    start_unless_running(pool)
    return pool


def _define_dir_pool(
    connection: libvirt.virConnect, name: str, path: Path
) -> libvirt.virStoragePool:
    try:
        pool = connection.storagePoolDefineXML(DirPoolDefinition(name, str(path)).xml(), 0)
    except libvirt.libvirtError:
        # Another thread may have defined it first: then its pool is this one.
        try:
            return connection.storagePoolLookupByName(name)
        except libvirt.libvirtError:
            pass
        raise
    pool.build(0)
    pool.setAutostart(1)
    return pool


def pool_over(connection: libvirt.virConnect, path: Path) -> libvirt.virStoragePool | None:
    """A pool (of any name) whose directory is ``path``, started if it is not; None if none."""
    wanted = str(path).rstrip("/") or "/"
    for pool in connection.listAllStoragePools(0):
        if pool_target_path(pool.XMLDesc(0)) == wanted:
            start_unless_running(pool)
            return pool
    return None


def find_volume(
    connection: libvirt.virConnect, pool_name: str, volume_name: str
) -> libvirt.virStorageVol | None:
    """Volume ``volume_name`` of pool ``pool_name``, or None when either does not exist."""
    try:
        pool = connection.storagePoolLookupByName(pool_name)
        if not pool.isActive():
            return None
        return pool.storageVolLookupByName(volume_name)
    except libvirt.libvirtError as exc:
        if is_missing(exc):
            return None
        raise


def find_volume_anywhere(
    connection: libvirt.virConnect, volume_name: str
) -> libvirt.virStorageVol | None:
    """Volume ``volume_name`` in whichever running pool holds it, or None."""
    for pool in connection.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        try:
            return pool.storageVolLookupByName(volume_name)
        except libvirt.libvirtError as exc:
            if not is_missing(exc):
                raise
    return None
