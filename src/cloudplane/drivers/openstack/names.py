"""How cloudplane's ids are kept on the cloud's resources, so a repeated call finds them.

Nova servers carry cloudplane's id in their metadata (``cloudplane_id``) and keep the user's
name; the driver's server index maps one to the other. Cinder volumes and snapshots, and
Neutron networks, ports and security groups, are named ``cloudplane-<id>``, which the APIs can
filter on exactly. Floating IPs carry ``cloudplane:<id>`` as their description.
"""

from __future__ import annotations

ID_KEY = "cloudplane_id"
PREFIX = "cloudplane-"
IMAGE_KEY = "cloudplane_image_id"
SNAPSHOT_KEY = "cloudplane_snapshot_id"
VOLUME_KEY = "cloudplane_volume_id"
DESCRIPTION_PREFIX = "cloudplane:"


def cloud_name(resource_id: str) -> str:
    return f"{PREFIX}{resource_id}"


def id_from_name(name: str | None) -> str | None:
    if name and name.startswith(PREFIX):
        return name[len(PREFIX) :]
    return None


def port_group_name(port_id: str) -> str:
    """The security group holding exactly one port's rules."""
    return f"{PREFIX}port-{port_id}"


def remote_group_name(group_id: str) -> str:
    """The security group that stands for cloudplane group ``group_id`` as a rule's peer."""
    return f"{PREFIX}group-{group_id}"


def marker(resource_id: str) -> str:
    return f"{DESCRIPTION_PREFIX}{resource_id}"


def id_from_marker(description: str | None) -> str | None:
    if description and description.startswith(DESCRIPTION_PREFIX):
        return description[len(DESCRIPTION_PREFIX) :]
    return None
