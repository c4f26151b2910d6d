"""Turning what a user typed (an id or a name) into the id the API wants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cloudplane.cli.client.api import API, ApiClient
from cloudplane.cli.client.errors import ClientError


@dataclass(frozen=True)
class Kind:
    """A resource collection that can be looked up by name."""

    singular: str
    path: str
    name_field: str = "name"

    def item_path(self, resource_id: str) -> str:
        """The path of one resource of this kind."""
        return f"{self.path}/{resource_id}"


SERVER = Kind("server", f"{API}/servers")
FLAVOR = Kind("flavor", f"{API}/flavors")
IMAGE = Kind("image", f"{API}/images")
PROJECT = Kind("project", f"{API}/projects")
# Users log in with a username, so that is the name a person types for them.
USER = Kind("user", f"{API}/users", name_field="username")
VOLUME = Kind("volume", f"{API}/volumes")
SNAPSHOT = Kind("snapshot", f"{API}/snapshots")
STORAGE_POOL = Kind("storage pool", f"{API}/storage-pools")
VOLUME_TYPE = Kind("volume type", f"{API}/volume-types")
NETWORK = Kind("network", f"{API}/networks")
PORT = Kind("port", f"{API}/ports")
# Floating IPs have no name; the address is what a person knows them by.
FLOATING_IP = Kind("floating IP", f"{API}/floating-ips", name_field="ip")
SECURITY_GROUP = Kind("security group", f"{API}/security-groups")
PLAN = Kind("protection plan", f"{API}/protection/plans")
TRIGGER = Kind("trigger", f"{API}/protection/triggers")
SCHEDULED_OPERATION = Kind("scheduled operation", f"{API}/protection/scheduled-operations")
# Checkpoints, restores and verifications have no name: they are named by id only.
CHECKPOINT = Kind("checkpoint", f"{API}/protection/checkpoints", name_field="id")
RESTORE = Kind("restore", f"{API}/protection/restores", name_field="id")
VERIFICATION = Kind("verification", f"{API}/protection/verifications", name_field="id")


def is_uuid(value: str) -> bool:
    """Whether ``value`` is written as a UUID (the API's ids are UUIDs)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def resolve_id(client: ApiClient, kind: Kind, id_or_name: str) -> str:
    """The id of the one ``kind`` that ``id_or_name`` names.

    A UUID is taken as the id without a request. Anything else is looked up with the list
    endpoint's ``name=`` filter (names are unique per project, but a list can span several, e.g.
    public images). Raises ``not_found`` if nothing has that name and ``ambiguous`` if several do.
    """
    if is_uuid(id_or_name):
        return id_or_name
    matches = find_by_name(client, kind, id_or_name)
    if not matches:
        raise ClientError("not_found", f"no {kind.singular} is named {id_or_name!r}")
    if len(matches) > 1:
        ids = ", ".join(str(match.get("id")) for match in matches)
        raise ClientError(
            "ambiguous",
            f"{len(matches)} {kind.singular}s are named {id_or_name!r} ({ids}); use an id",
        )
    return str(matches[0]["id"])


def find_by_name(client: ApiClient, kind: Kind, name: str) -> list[dict[str, Any]]:
    """Every visible ``kind`` whose name is exactly ``name``.

    The result is filtered here as well, so a server that ignores the filter still gives the
    right answer (only slower).
    """
    params: dict[str, str | int | bool | None] = {kind.name_field: name, "limit": 100}
    found = client.paginate(kind.path, params)
    return [item for item in found if item.get(kind.name_field) == name]
