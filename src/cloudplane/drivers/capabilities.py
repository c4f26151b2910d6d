"""What a backend may or may not be able to do; every part of the driver contract uses these."""

from __future__ import annotations

import enum


class Capability(enum.StrEnum):
    """Things a backend may or may not be able to do; the API answers 501 for a missing one."""

    PAUSE = "pause"
    SOFT_REBOOT = "soft_reboot"
    CONSOLE = "console"
    HOT_ATTACH = "hot_attach"
    SNAPSHOTS = "snapshots"
    VOLUME_EXTEND_ONLINE = "volume_extend_online"
    FLOATING_IPS = "floating_ips"
    SECURITY_GROUPS = "security_groups"
    GROUP_PEERS = "group_peers"
    """Rules whose peer is a security group admit that group's members (``set_group_peers``);
    without it such rules admit nobody."""
    GROUP_PEERS_WITH_PROTOCOL = "group_peers_with_protocol"
    """With ``group_peers``: also rules that name a protocol (and ports), not only rules for
    any protocol."""
    VOLUME_DATA = "volume_data"
    """Copying a volume's bytes out to a file and back in (what the ``backup`` provider needs)."""
