"""What a server body shows of other features: addresses, floating IPs and volumes.

Loaded for a whole page of servers at once, never per server, and in one statement: the three
reads are one ``UNION ALL`` of rows shaped alike (``_EXTRAS_COLUMNS``), because on the server
show path each statement costs about as much as the rest of the request. For the same reason the
show path reads a server's row and its extras together, in one statement.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    String,
    bindparam,
    case,
    cast,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.compute.repository import SERVER_VIEW_COLUMNS, SERVERS
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


ServerMatch = Callable[[ColumnElement[str]], ColumnElement[bool]]
"""Picks the servers whose extras are read, given the column that names a row's server."""


def _extras_union(match: ServerMatch) -> CompoundSelect[Any]:
    """The extras rows (``_EXTRAS_COLUMNS``) of the servers that ``match`` picks, unordered."""
    ports, floating_ips = Port.__table__.c, FloatingIp.__table__.c
    attachments = VolumeAttachment.__table__.c
    addresses = select(
        _kind(_ADDRESS),
        ports.device_id,
        ports.created_at,
        ports.id,
        ports.network_id,
        ports.mac,
        # A JSON list of the port's fixed IPs, read back as text on every engine.
        cast(ports.fixed_ips, String),
    ).where(match(ports.device_id), ports.deleted_key == LIVE)
    associated = (
        select(
            _kind(_FLOATING_IP),
            ports.device_id,
            floating_ips.created_at,
            floating_ips.id,
            floating_ips.ip,
            null(),
            null(),
        )
        .join_from(FloatingIp.__table__, Port.__table__, ports.id == floating_ips.port_id)
        .where(match(ports.device_id), ports.deleted_key == LIVE, floating_ips.deleted_key == LIVE)
    )
    volumes = select(
        _kind(_VOLUME),
        attachments.server_id,
        null(),
        attachments.device,
        attachments.volume_id,
        case((attachments.boot, literal_column("'1'")), else_=literal_column("'0'")),
        null(),
    ).where(match(attachments.server_id))
    labelled = [
        part.with_only_columns(
            *(
                column.label(name)
                for column, name in zip(part.selected_columns, _EXTRAS_COLUMNS, strict=True)
            )
        )
        for part in (addresses, associated, volumes)
    ]
    return union_all(*labelled)


def _kind(kind: str) -> ColumnElement[str]:
    # Written into the SQL rather than bound: a bound value costs a parameter per execution.
    return literal_column(f"'{kind}'", String)


@functools.cache
def _extras_statement() -> CompoundSelect[Any]:
    server_ids: BindParameter[str] = bindparam("server_ids", expanding=True)
    merged = _extras_union(lambda server_id: server_id.in_(server_ids))
    order = merged.selected_columns
    return merged.order_by(order.kind, order.server_id, order.at, order.sort_key)


@functools.cache
def _server_with_extras_statement() -> Select[Any]:
    server_id: BindParameter[str] = bindparam("server_id")
    extras = _extras_union(lambda owner: owner == server_id).subquery("extras")
    return (
        select(*SERVER_VIEW_COLUMNS, *(extras.c[name] for name in _EXTRAS_COLUMNS))
        # Every extras row already belongs to the server: the join only attaches them to its
        # row, and keeps that row when there are none.
        .outerjoin_from(Server.__table__, extras, true())
        .where(SERVERS.id == server_id)
        .order_by(extras.c.kind, extras.c.at, extras.c.sort_key)
    )


async def load_server_with_extras(
    session: AsyncSession, server_id: str
) -> tuple[Row[Any], ServerExtras] | None:
    """A server's body columns (``SERVER_VIEW_COLUMNS``, deleted or not) and its extras, read
    in one statement (the server show path); None when there is no such server."""
    rows = (await session.execute(_server_with_extras_statement(), {"server_id": server_id})).all()
    if not rows:
        return None
    extras_width = len(_EXTRAS_COLUMNS)
    extras = _fold_extras(row[-extras_width:] for row in rows if row.kind is not None)
    return rows[0], extras.get(server_id, NO_EXTRAS)


async def load_server_extras(
    session: AsyncSession, server_ids: Sequence[str]
) -> dict[str, ServerExtras]:
    """Extras of every listed server (servers without any are left out of the map)."""
    if not server_ids:
        return {}
    rows = await session.execute(_extras_statement(), {"server_ids": list(server_ids)})
    return _fold_extras(rows)


def _fold_extras(rows: Iterable[Sequence[Any]]) -> dict[str, ServerExtras]:
    """Extras rows (``_EXTRAS_COLUMNS``, in order) gathered per server."""
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
