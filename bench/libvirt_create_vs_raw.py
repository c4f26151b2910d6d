"""Create→running through cloudplane on the libvirt driver, against raw libvirt define+start.

A real ``cloudplane serve`` on the libvirt driver (``qemu:///system``, QEMU emulation) creates 20
servers from the seeded ``tiny`` image one after another; each one's time from request to
``ACTIVE`` is read from its create operation (``created_at`` → ``finished_at``). Then the same
domain XML (renamed, with its own copy-on-write disk made beforehand) is defined and started 20
times straight through libvirt-python, timed around ``defineXML`` + ``create``. The difference of
the medians is cloudplane's overhead. Everything made is removed at the end, and the run fails if
a domain or QEMU process of it is left.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import libvirt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.api import expect, lift_compute_quota, login, seeded_catalogue
from bench.harness.processes import CloudplaneService, serve_note
from bench.harness.report import exit_cleanly_on_sigterm, percentile, print_header, target

SERVERS = 20
URI = "qemu:///system"
TARGET_OVERHEAD_P50_S = 0.5
DEADLINE_S = 120.0


def wait_for_active(base_url: str, headers: dict[str, str], server_id: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        body = expect(httpx.get(f"{base_url}/api/v1/servers/{server_id}", headers=headers), 200)
        if body["status"] == "ACTIVE":
            return
        if body["status"] == "ERROR":
            raise RuntimeError(f"server {server_id} failed: {body['fault']}")
        time.sleep(0.05)
    raise RuntimeError(f"server {server_id} not ACTIVE within {DEADLINE_S}s")


def operation_seconds(base_url: str, headers: dict[str, str], operation_id: str) -> float:
    body = expect(httpx.get(f"{base_url}/api/v1/operations/{operation_id}", headers=headers), 200)
    started = _parse(body["created_at"])
    finished = _parse(body["finished_at"])
    return finished - started


def _parse(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def through_cloudplane(service: CloudplaneService) -> tuple[list[float], list[str]]:
    session = login(service.url)
    lift_compute_quota(service.url, session)
    catalogue = seeded_catalogue(service.url, session)
    durations: list[float] = []
    server_ids: list[str] = []
    for number in range(SERVERS):
        created = expect(
            httpx.post(
                f"{service.url}/api/v1/servers",
                json={
                    "name": f"bench-{number}",
                    "flavor_id": catalogue.flavor_id,
                    "image_id": catalogue.image_id,
                },
                headers=session.headers,
                timeout=30,
            ),
            202,
        )
        wait_for_active(service.url, session.headers, created["id"])
        durations.append(operation_seconds(service.url, session.headers, created["operation_id"]))
        server_ids.append(created["id"])
    return durations, server_ids


def raw_libvirt(
    connection: libvirt.virConnect, template: str, scratch: Path, prefix: str
) -> list[float]:
    """Define and start the template domain ``SERVERS`` times, each with its own disk and log."""
    root = ET.fromstring(template)
    backing = _backing_file(connection, root)
    durations: list[float] = []
    for number in range(SERVERS):
        name = f"{prefix}raw-{number}"
        disk = scratch / f"{name}.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", str(disk)],
            check=True,
        )
        xml = _renamed(root, name, disk, scratch / f"{name}-serial.log")
        began = time.monotonic()
        domain = connection.defineXML(xml)
        domain.create()
        durations.append(time.monotonic() - began)
    return durations


def _backing_file(connection: libvirt.virConnect, root: ET.Element) -> str:
    source = root.find("./devices/disk/source")
    assert source is not None
    volume = connection.storageVolLookupByPath(source.get("file", ""))
    backing = ET.fromstring(volume.XMLDesc(0)).findtext("./backingStore/path")
    assert backing is not None
    return backing


def _renamed(template: ET.Element, name: str, disk: Path, log: Path) -> str:
    root = ET.fromstring(ET.tostring(template))
    root.find("name").text = name  # type: ignore[union-attr]
    for unique in ("uuid", "metadata"):
        element = root.find(unique)
        if element is not None:
            root.remove(element)
    root.find("./devices/disk/source").set("file", str(disk))  # type: ignore[union-attr]
    root.find("./devices/serial/source").set("path", str(log))  # type: ignore[union-attr]
    for interface in root.findall("./devices/interface"):
        mac = interface.find("mac")
        if mac is not None:
            interface.remove(mac)  # libvirt gives each copy a MAC of its own
    return ET.tostring(root, encoding="unicode")


def remove_everything(connection: libvirt.virConnect, prefix: str) -> None:
    for domain in connection.listAllDomains(0):
        if domain.name().startswith(prefix):
            if domain.isActive():
                domain.destroy()
            domain.undefine()
    for pool in connection.listAllStoragePools(0):
        if pool.name().startswith(prefix):
            if pool.isActive():
                pool.destroy()
            pool.undefine()
    for network in connection.listAllNetworks(0):
        if network.name().startswith(prefix):
            if network.isActive():
                network.destroy()
            network.undefine()
    for log in Path("/var/log/libvirt/qemu").glob(f"{prefix}*"):
        log.unlink(missing_ok=True)


def main() -> int:
    exit_cleanly_on_sigterm()
    prefix = f"cpbench-{secrets.token_hex(3)}-"
    scratch = Path("/var/tmp") / prefix.rstrip("-")
    scratch.mkdir(mode=0o711)
    scratch.chmod(0o711)  # QEMU runs as its own user and opens the disks in here
    connection = libvirt.open(URI)
    print_header(
        f"create→running: cloudplane (libvirt) vs raw libvirt define+start, {SERVERS} servers",
        [
            serve_note(),
            f"driver: libvirt on {URI}, QEMU emulation (TCG), flavor m1.tiny, image tiny",
            "cloudplane: operation created_at→finished_at, servers created one after another",
        ],
    )
    try:
        service = CloudplaneService(
            scratch / "var",
            extra_env={
                "CLOUDPLANE_DRIVER": "libvirt",
                "CLOUDPLANE_LIBVIRT_HOSTS": URI,
                "CLOUDPLANE_LIBVIRT_VIRT_TYPE": "qemu",
                "CLOUDPLANE_LIBVIRT_NAME_PREFIX": prefix,
                "CLOUDPLANE_LIBVIRT_SHUTDOWN_TIMEOUT_S": "1",
            },
        )
        with service.serving():
            ours, server_ids = through_cloudplane(service)
            template = connection.lookupByName(f"{prefix}{server_ids[0]}").XMLDesc(
                libvirt.VIR_DOMAIN_XML_INACTIVE
            )
            raw = raw_libvirt(connection, template, scratch, prefix)
            _delete_through_api(service, server_ids)
    finally:
        remove_everything(connection, prefix)
        left = [d.name() for d in connection.listAllDomains(0) if d.name().startswith(prefix)]
        connection.close()
        shutil.rmtree(scratch, ignore_errors=True)
    processes = subprocess.run(
        ["pgrep", "-f", f"guest={prefix}"], capture_output=True, text=True, check=False
    ).stdout.split()
    p50_ours, p99_ours = percentile(ours, 0.5), percentile(ours, 0.99)
    p50_raw, p99_raw = percentile(raw, 0.5), percentile(raw, 0.99)
    print(f"cloudplane: p50 {p50_ours * 1000:.0f} ms, p99 {p99_ours * 1000:.0f} ms")
    print(f"raw libvirt define+start: p50 {p50_raw * 1000:.0f} ms, p99 {p99_raw * 1000:.0f} ms")
    overhead = p50_ours - p50_raw
    print(f"overhead at p50: {overhead * 1000:.0f} ms (ratio {p50_ours / p50_raw:.1f}x)")
    print(f"left behind: {len(left)} domains, {len(processes)} QEMU processes")
    met = target(f"p50 overhead ≤ {TARGET_OVERHEAD_P50_S} s", overhead <= TARGET_OVERHEAD_P50_S)
    return 0 if met and not left and not processes else 1


def _delete_through_api(service: CloudplaneService, server_ids: list[str]) -> None:
    session = login(service.url)
    for server_id in server_ids:
        expect(
            httpx.delete(f"{service.url}/api/v1/servers/{server_id}", headers=session.headers),
            202,
        )
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        page: dict[str, Any] = expect(
            httpx.get(f"{service.url}/api/v1/servers", headers=session.headers), 200
        )
        if not page["items"]:
            return
        time.sleep(0.2)
    raise RuntimeError("servers still listed after the deletes")


if __name__ == "__main__":
    sys.exit(main())
