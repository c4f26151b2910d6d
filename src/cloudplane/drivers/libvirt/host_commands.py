"""Running the host's firewall tools (``ipset``, ``iptables``) for the libvirt driver.

Blocking: call from a worker thread, as root. Only a driver whose host is this machine uses
them: they change this machine's kernel.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Sequence

from cloudplane.drivers.errors import DriverError

_TIMEOUT_S = 30.0


def firewall_tag(name_prefix: str) -> str:
    """Three characters standing for a driver's name prefix in the host's firewall objects,
    whose names are short (31 characters for an ipset, 28 for an iptables chain)."""
    digest = hashlib.sha256(name_prefix.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:3]


def checked_uuid(identifier: str) -> uuid.UUID:
    """``identifier`` as a UUID (cloudplane's ids are), for a firewall object's name or
    comment; anything else is a ``DriverError``."""
    try:
        return uuid.UUID(identifier)
    except ValueError as exc:
        raise DriverError(f"id {identifier!r} is not a UUID", code="invalid_id") from exc


def command_usable(tool: str, *probe: str) -> bool:
    """Whether ``tool`` is installed and ``tool *probe`` succeeds (it needs root to)."""
    if shutil.which(tool) is None:
        return False
    try:
        result = subprocess.run(
            [tool, *probe], capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def run_host_command(
    tool: str,
    arguments: Sequence[str],
    *,
    stdin: str | None = None,
    tolerate: Sequence[str] = (),
) -> str:
    """``tool`` with ``arguments``: its output, or its error text when that contains one of
    ``tolerate``. Any other failure is a ``DriverError`` with code ``<tool>_failed`` (or
    ``unavailable`` when the tool cannot be run at all)."""
    command = " ".join([tool, *arguments[:1]])
    try:
        result = subprocess.run(
            [tool, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverError(f"{command} failed: {exc}", code="unavailable") from exc
    if result.returncode == 0:
        return result.stdout
    error = result.stderr.strip()
    if any(text in error for text in tolerate):
        return error
    code = tool.replace("-", "_") + "_failed"
    raise DriverError(f"{command} failed: {error}", code=code)
