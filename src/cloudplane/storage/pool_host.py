"""What a storage pool is on the host: its directory, its file system's size, its NFS mount.

Everything here touches the file system or runs ``mount``; all of it runs off the event loop and
with a time limit, because a hung NFS server blocks ``statvfs`` and ``mount`` indefinitely.
Mounting needs root and the NFS client (``mount.nfs``); without them the mount is refused with
a clear ``NotSupported`` before anything is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cloudplane.drivers.storage_contract import GIB
from cloudplane.kit.errors import NotSupported, ValidationFailed
from cloudplane.kit.logging import get_logger
from cloudplane.storage.schemas import PoolKind, PoolStatus

log = get_logger(__name__)

PROBE_TIMEOUT_S = 5.0
"""How long a look at a pool's file system may take before the pool counts as unavailable."""

MOUNT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PoolProbe:
    """What the host says about a pool's path right now."""

    status: PoolStatus
    filesystem_gb: int
    """The file system's size in whole GB (0 when unavailable)."""


async def probe_pool(kind: str, path: str) -> PoolProbe:
    """The pool's status and its file system's size; never raises and never hangs."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_probe_blocking, kind, path), timeout=PROBE_TIMEOUT_S
        )
    except (TimeoutError, OSError) as exc:
        log.warning("storage_pool_probe_failed", path=path, error=str(exc) or type(exc).__name__)
        return PoolProbe(status=PoolStatus.UNAVAILABLE, filesystem_gb=0)


def _probe_blocking(kind: str, path: str) -> PoolProbe:
    if not os.path.isdir(path) or (kind == PoolKind.NFS.value and not os.path.ismount(path)):
        return PoolProbe(status=PoolStatus.UNAVAILABLE, filesystem_gb=0)
    stats = os.statvfs(path)
    return PoolProbe(status=PoolStatus.ACTIVE, filesystem_gb=stats.f_blocks * stats.f_frsize // GIB)


async def prepare_dir_pool(path: str) -> None:
    """Make sure a ``dir`` pool's directory exists (created with its parents if missing).

    422 when the path exists but is not a directory, or cannot be created.
    """
    try:
        await asyncio.to_thread(Path(path).mkdir, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ValidationFailed(f"{path} exists and is not a directory", field="body.path") from exc
    except OSError as exc:
        raise ValidationFailed(
            f"cannot create the pool directory {path}: {exc.strerror}", field="body.path"
        ) from exc


async def check_mounted_path(path: str) -> None:
    """An ``nfs`` pool given by ``path`` must already be a mount point (422 otherwise)."""
    mounted = await asyncio.to_thread(os.path.ismount, path)
    if not mounted:
        raise ValidationFailed(
            f"{path} is not a mount point; mount the export first or give `export` instead",
            field="body.path",
        )


class NfsMounter:
    """Mounts and unmounts NFS exports with the host's ``mount``/``umount`` commands.

    The commands are attributes so a test can point them at stand-ins.
    """

    mount_command: tuple[str, ...] = ("mount", "-t", "nfs", "-o", "soft,timeo=100,retrans=2")
    unmount_command: tuple[str, ...] = ("umount",)
    helper: str = "mount.nfs"

    def check_supported(self) -> None:
        """501 unless this host can mount NFS: root, ``mount`` and the NFS helper present."""
        if os.geteuid() != 0:
            raise NotSupported("mounting an NFS export needs cloudplane to run as root")
        if shutil.which(self.mount_command[0]) is None:
            raise NotSupported(f"`{self.mount_command[0]}` is not installed on this host")
        if shutil.which(self.helper, path=_SBIN_PATH) is None:
            raise NotSupported(
                f"this host has no NFS client (`{self.helper}`); install nfs-common, "
                "or mount the export yourself and give its `path`"
            )

    async def mount(self, export: str, mountpoint: Path) -> None:
        """Mount ``export`` at ``mountpoint`` (created if missing); 422 with mount's reason
        when it fails, and nothing is left mounted."""
        self.check_supported()
        await asyncio.to_thread(mountpoint.mkdir, parents=True, exist_ok=True)
        code, output = await _run([*self.mount_command, export, str(mountpoint)], MOUNT_TIMEOUT_S)
        if code != 0:
            await asyncio.to_thread(_remove_empty_dir, mountpoint)
            raise ValidationFailed(
                f"cannot mount {export}: {output or f'mount exited with {code}'}",
                field="body.export",
            )

    async def unmount(self, mountpoint: Path) -> None:
        """Unmount and remove the mount point; failures are logged, never raised (the pool row
        is already gone, and an operator can unmount by hand)."""
        code, output = await _run([*self.unmount_command, str(mountpoint)], MOUNT_TIMEOUT_S)
        if code != 0:
            log.error("storage_pool_unmount_failed", mountpoint=str(mountpoint), output=output)
            return
        await asyncio.to_thread(_remove_empty_dir, mountpoint)


_SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/sbin", "/usr/sbin", "/usr/local/sbin"])


async def _run(argv: list[str], timeout_s: float) -> tuple[int, str]:
    """Run a command; ``(exit code, its output trimmed)``. A timeout kills it (code -1)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return -1, f"cannot run {argv[0]}: {exc.strerror}"
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{argv[0]} did not finish within {timeout_s:.0f} s"
    return int(process.returncode or 0), output.decode(errors="replace").strip()[:500]


def _remove_empty_dir(path: Path) -> None:
    # Not empty or already gone: leave it for an operator rather than guess.
    with contextlib.suppress(OSError):
        path.rmdir()


def mountpoint_for(data_dir: Path, pool_id: str) -> Path:
    """Where cloudplane mounts the export of pool ``pool_id``: a path it owns."""
    return (data_dir / "storage-pools" / pool_id).resolve()
