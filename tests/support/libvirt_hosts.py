"""libvirt for tests: the real daemon (or a clear failure in CI), test prefixes, and clean-up.

Every object a test makes on a libvirt host is named with ``TEST_PREFIX`` (unique to this test
session), so ``remove_test_objects`` can take away exactly what this session made, and
``objects_named`` can prove nothing was left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path

import libvirt

from cloudplane.drivers.libvirt.connection import silence_default_error_printing
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat, iptables_usable
from cloudplane.drivers.libvirt.peer_sets import PeerSets, ipset_usable
from tests.support.databases import unavailable

REAL_URI = os.environ.get("CLOUDPLANE_TEST_LIBVIRT_URI", "qemu:///system")
TEST_URI = "test:///default"
TEST_NAMESPACE = "cptest-"
"""Names of everything any test session makes on a libvirt host start with this."""
TEST_PREFIX = f"{TEST_NAMESPACE}{secrets.token_hex(3)}-"
"""Names of everything this test session makes on a libvirt host start with this."""

# Earlier sessions' leftovers are removed once, at this session's first real connection.
_earlier_sessions_removed: list[bool] = []


LIBVIRT_DOMAIN_LOGS = Path("/var/log/libvirt/qemu")
"""Where the local daemon writes one log per domain (and a remote-style console log goes)."""


def private_test_host(directory: Path, *, cpus: int, memory_mib: int) -> str:
    """The URI of a libvirt test host of its own (``test:///<node file>``), with the given size.

    ``test:///default`` is one host shared by the whole process, so what other tests left on it
    changes its free memory; a node file gives each connection a private host.
    """
    node = directory / f"test-node-{cpus}-{memory_mib}.xml"
    node.write_text(
        f"""<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>{cpus}</active><nodes>1</nodes>
       <sockets>1</sockets><cores>{cpus}</cores><threads>1</threads></cpu>
  <memory>{memory_mib * 1024}</memory>
</node>"""
    )
    return f"test://{node}"


def prefix_for(scratch_dir: Path) -> str:
    """A prefix unique to one test (its scratch directory) inside this session's prefix."""
    return f"{TEST_PREFIX}{hashlib.sha256(str(scratch_dir).encode()).hexdigest()[:6]}-"


def real_connection() -> libvirt.virConnect:
    """A connection to the real daemon; fails the test in CI (skips elsewhere) without one."""
    silence_default_error_printing()
    if not Path("/run/libvirt/libvirt-sock").exists() and REAL_URI == "qemu:///system":
        unavailable("libvirtd is not running (no /run/libvirt/libvirt-sock); run make services")
    try:
        connection = libvirt.open(REAL_URI)
    except libvirt.libvirtError as exc:
        unavailable(f"libvirtd at {REAL_URI} does not answer: {exc.get_error_message()}")
        raise  # unreachable: unavailable() always raises
    if not _earlier_sessions_removed:
        _remove_earlier_sessions(connection)
        _earlier_sessions_removed.append(True)
    return connection


def _remove_earlier_sessions(connection: libvirt.virConnect) -> None:
    """Take away what an interrupted earlier test session left on the host (a network it left
    active would hold its bridge and subnet, failing every later session's servers)."""
    found = " ".join(objects_named(connection, TEST_NAMESPACE))
    for earlier_prefix in set(re.findall(rf"{TEST_NAMESPACE}[0-9a-f]{{6}}-", found)):
        if earlier_prefix != TEST_PREFIX:
            remove_test_objects(connection, earlier_prefix)
    if QEMU_SCRATCH_ROOT.is_dir():
        for earlier in QEMU_SCRATCH_ROOT.glob(f"{TEST_NAMESPACE}*"):
            if earlier.name != TEST_PREFIX.rstrip("-"):
                shutil.rmtree(earlier, ignore_errors=True)


QEMU_SCRATCH_ROOT = Path(
    os.environ.get("CLOUDPLANE_TEST_QEMU_SCRATCH", "/var/tmp/cloudplane-tests")
)
"""Where tests that hand files to QEMU keep them.

QEMU runs as its own user, so it must be able to walk down to every disk. pytest keeps its
temporary directories private to their owner (and resets that whenever any pytest session of the
same user starts), so files QEMU opens cannot live there.
"""


def qemu_scratch_dir(test_id: str) -> Path:
    """A new, empty directory for one test that QEMU can reach; ``remove_scratch`` removes it."""
    session_dir = QEMU_SCRATCH_ROOT / TEST_PREFIX.rstrip("-")
    path = session_dir / hashlib.sha256(test_id.encode()).hexdigest()[:12]
    path.mkdir(parents=True)
    for directory in (QEMU_SCRATCH_ROOT, session_dir, path):
        directory.chmod(0o711)
    return path


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_session_scratch() -> None:
    """Remove this session's scratch directories; afterwards none of its files remain."""
    shutil.rmtree(QEMU_SCRATCH_ROOT / TEST_PREFIX.rstrip("-"), ignore_errors=True)


def let_qemu_reach(path: Path) -> None:
    """Let QEMU walk down to ``path``, a directory under a test's ``qemu_scratch_dir``."""
    for directory in [path, *path.parents]:
        if directory in (QEMU_SCRATCH_ROOT, Path("/")):
            break
        directory.chmod(directory.stat().st_mode | 0o711)


def objects_named(connection: libvirt.virConnect, prefix: str = TEST_PREFIX) -> list[str]:
    """Every domain, volume, pool, network and network filter on the host whose name starts
    with ``prefix``."""
    found = [
        f"domain {d.name()}" for d in connection.listAllDomains(0) if d.name().startswith(prefix)
    ]
    for pool in connection.listAllStoragePools(0):
        if pool.name().startswith(prefix):
            found.append(f"pool {pool.name()}")
        if pool.isActive():
            pool.refresh(0)
            found.extend(
                f"volume {v.path()}" for v in pool.listAllVolumes(0) if v.name().startswith(prefix)
            )
    found.extend(
        f"network {n.name()}" for n in connection.listAllNetworks(0) if n.name().startswith(prefix)
    )
    found.extend(
        f"nwfilter {f.name()}"
        for f in connection.listAllNWFilters(0)
        if f.name().startswith(prefix)
    )
    found.extend(f"log {path}" for path in LIBVIRT_DOMAIN_LOGS.glob(f"{prefix}*"))
    return found


def remove_test_objects(connection: libvirt.virConnect, prefix: str = TEST_PREFIX) -> None:
    """Destroy and remove every domain, volume, pool, network and network filter named with
    ``prefix``, and the ipsets and NAT rules of a driver with that prefix."""
    for domain in connection.listAllDomains(0):
        if domain.name().startswith(prefix):
            if domain.isActive():
                domain.destroy()
            if domain.isPersistent():
                domain.undefineFlags(
                    libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                )
    for pool in connection.listAllStoragePools(0):
        if pool.isActive():
            pool.refresh(0)
            for volume in pool.listAllVolumes(0):
                if volume.name().startswith(prefix):
                    volume.delete(0)
        if pool.name().startswith(prefix):
            if pool.isActive():
                pool.destroy()
            pool.undefine()
    for network in connection.listAllNetworks(0):
        if network.name().startswith(prefix):
            if network.isActive():
                network.destroy()
            network.undefine()
    # After the domains: libvirt keeps a filter an interface uses.
    for port_filter in connection.listAllNWFilters(0):
        if port_filter.name().startswith(prefix):
            port_filter.undefine()
    # After the filters: the kernel keeps a set that a firewall rule names.
    if ipset_usable():
        peer_sets = PeerSets(prefix)
        for peers in peer_sets.listing():
            peer_sets.remove(peers.id)
    if iptables_usable():
        FloatingIpNat(prefix).remove()
    # libvirt keeps each domain's QEMU log after the domain is gone.
    for path in LIBVIRT_DOMAIN_LOGS.glob(f"{prefix}*"):
        path.unlink(missing_ok=True)
