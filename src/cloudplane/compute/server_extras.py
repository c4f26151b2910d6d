"""What a server body shows of other features: addresses, floating IPs and volumes.

Loaded for a whole page of servers at once, never per server, and in one statement: the three
reads are one ``UNION ALL`` of rows shaped alike (``_EXTRAS_COLUMNS``), because on the server
show path each statement costs about as much as the rest of the request.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    String,
    bindparam,
    case,
    cast,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import LIVE
from cloudplane.network.models import FloatingIp, Port
from cloudplane.storage.models import VolumeAttachment
from cloudplane.storage.server_volumes import ServerVolumeEntry


class ServerAddressEntry(TypedDict):
    """One entry of a server body's ``addresses``: a fixed IP of one of its ports."""

    network_id: str
    port_id: str
    ip: str
    mac: str


class ServerFloatingIpEntry(TypedDict):
    """One entry of a server body's ``floating_ips``."""

    id: str
    ip: str


@dataclass(frozen=True, slots=True)
class ServerExtras:
    addresses: list[ServerAddressEntry] = field(default_factory=list)
    floating_ips: list[ServerFloatingIpEntry] = field(default_factory=list)
    volumes: list[ServerVolumeEntry] = field(default_factory=list)


NO_EXTRAS = ServerExtras()

_ADDRESS, _FLOATING_IP, _VOLUME = "address", "floating_ip", "volume"

_EXTRAS_COLUMNS = ("kind", "server_id", "at", "sort_key", "first", "second", "third")
"""The shape of every extras row. ``at`` and ``sort_key`` order a server's entries of one kind
(ports and floating IPs by creation, volumes by device); ``first``/``second``/``third`` are
the entry's own values, as text so that the three kinds line up on every engine."""


@functools.cache
def _extras_statement() -> CompoundSelect[Any]:
    ports, floating_ips = Port.__table__.c, FloatingIp.__table__.c
    attachments = VolumeAttachment.__table__.c
    server_ids: BindParameter[str] = bindparam("server_ids", expanding=True)
    addresses = select(
        literal(_ADDRESS),
        ports.device_id,
        ports.created_at,
        ports.id,
        ports.network_id,
        ports.mac,
        # A JSON list of the port's fixed IPs, read back as text on every engine.
        cast(ports.fixed_ips, String),
    ).where(ports.device_id.in_(server_ids), ports.deleted_key == LIVE)
    associated = (
        select(
            literal(_FLOATING_IP),
            ports.device_id,
            floating_ips.created_at,
            floating_ips.id,
            floating_ips.ip,
            null(),
            null(),
        )
        .join_from(FloatingIp.__table__, Port.__table__, ports.id == floating_ips.port_id)
        .where(
            ports.device_id.in_(server_ids),
            ports.deleted_key == LIVE,
            floating_ips.deleted_key == LIVE,
        )
    )
    volumes = select(
        literal(_VOLUME),
        attachments.server_id,
        null(),
        attachments.device,
        attachments.volume_id,
        case((attachments.boot, literal("1")), else_=literal("0")),
        null(),
    ).where(attachments.server_id.in_(server_ids))
    labelled = [
        part.with_only_columns(
            *(
                column.label(name)
                for column, name in zip(part.selected_columns, _EXTRAS_COLUMNS, strict=True)
            )
        )
        for part in (addresses, associated, volumes)
    ]
    merged = union_all(*labelled)
    order = merged.selected_columns
    return merged.order_by(order.kind, order.server_id, order.at, order.sort_key)


async def load_server_extras(
    session: AsyncSession, server_ids: Sequence[str]
) -> dict[str, ServerExtras]:
    """Extras of every listed server (servers without any are left out of the map)."""
    if not server_ids:
        return {}
    rows = await session.execute(_extras_statement(), {"server_ids": list(server_ids)})
    extras: dict[str, ServerExtras] = {}
    for kind, server_id, _at, sort_key, first, second, third in rows:
        entries = extras.get(server_id)
        if entries is None:
            entries = extras[server_id] = ServerExtras([], [], [])
        if kind == _ADDRESS:
            entries.addresses.extend(
                {"network_id": first, "port_id": sort_key, "ip": ip, "mac": second}
                for ip in json.loads(third)
            )
        elif kind == _FLOATING_IP:
            entries.floating_ips.append({"id": sort_key, "ip": first})
        else:
            entries.volumes.append({"volume_id": first, "device": sort_key, "boot": second == "1"})
    return extras
