"""Telling the backend which addresses a security group stands for, as a rule's peer.

A rule whose peer is a security group (``remote_group_id``, as in the ``default`` group's
ingress rule) admits the fixed IPs of that group's live ports. cloudplane resolves the
membership and hands the backend one list per group (``set_group_peers``); the backend's rules
refer to the list, so a server joining or leaving a group changes one list, not every member's
rules.

Which groups: those that a rule of a live group names as its peer; others need no list.

When: the worker operations that change a group's members ask for the groups concerned to be
refreshed: a port built (a server's create, a port's own), a port deleted (with its server or
alone), a port whose groups were replaced (its old and new ones). A refresh reads the members
as they are when it begins and runs in the background of the worker (``CoalescedRefresh``):
refreshes of one group are merged and begin at least ``group_peers_interval_s`` apart, so a
burst of boots in one group reads its members a few times a second, not once per boot, and a
group's peers follow its members within about that interval.

Two worker processes may push one group's list in the wrong order: the one that read first
pushing last. So after a push the pusher reads the members again and, when they differ from
what it pushed, asks for another refresh: whoever pushed last checks last. A refresh that fails
is logged; each reconcile round compares every list with the database and repairs the
difference, which also covers refreshes lost with a stopped worker.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    CompoundSelect,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cloudplane.audit.repairs import RECONCILER, record_repair
from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.network_contract import GroupPeers
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.network.models import Port, PortSecurityGroup, SecurityGroup, SecurityGroupRule
from cloudplane.runtime import Runtime

log = get_logger(__name__)


def keeps_peers(runtime: Runtime) -> bool:
    return Capability.GROUP_PEERS in runtime.driver.capabilities


async def request_peer_refresh_for_ports(
    runtime: Runtime, port_ids: Collection[str], *, former_groups: Iterable[str] = ()
) -> None:
    """Ask for the peer groups that ports ``port_ids`` concern (``concerned_peer_groups``) to
    be refreshed."""
    if not keeps_peers(runtime):
        return  # not even a session to open
    async with unit_of_work(runtime.sessions) as session:
        group_ids = await concerned_peer_groups(session, runtime, port_ids, former_groups)
    request_peer_refresh(runtime, group_ids)


def request_peer_refresh(runtime: Runtime, group_ids: Iterable[str]) -> None:
    """Refresh each group's peers on the backend in the background (see the module)."""
    if not keeps_peers(runtime):
        return
    for group_id in sorted(set(group_ids)):
        runtime.peer_refreshes.request(group_id, functools.partial(_push_or_log, runtime, group_id))


async def _push(runtime: Runtime, group_id: str) -> GroupPeers:
    """Hand the backend the group's members as they are now, then check that they still are
    (see the module docstring); returns what was pushed."""
    peers = await _members(runtime, group_id)
    await runtime.driver.set_group_peers(peers)
    if set((await _members(runtime, group_id)).addresses) != set(peers.addresses):
        request_peer_refresh(runtime, [group_id])
    return peers


async def _members(runtime: Runtime, group_id: str) -> GroupPeers:
    async with unit_of_work(runtime.sessions) as session:
        return (await peers_of_groups(session, [group_id]))[group_id]


async def _push_or_log(runtime: Runtime, group_id: str) -> None:
    try:
        await _push(runtime, group_id)
    except DriverError as exc:
        log.warning("group_peers_not_set", group_id=group_id, reason=str(exc) or exc.code)


async def concerned_peer_groups(
    session: AsyncSession,
    runtime: Runtime,
    port_ids: Collection[str],
    former_groups: Iterable[str] = (),
) -> set[str]:
    """``groups_to_refresh``, for a caller that has a session open anyway; empty (no query)
    when the backend keeps no peers."""
    former = list(former_groups)
    if not keeps_peers(runtime) or not (port_ids or former):
        return set()
    return await groups_to_refresh(session, port_ids, former)


async def groups_to_refresh(
    session: AsyncSession, port_ids: Collection[str], former_groups: Iterable[str] = ()
) -> set[str]:
    """The peer groups that ports ``port_ids`` concern, in one query: the named groups they
    are in (or, ``former_groups``, were in) and the groups their groups' rules name."""
    rows = await session.scalars(
        _groups_to_refresh_statement(),
        {"port_ids": list(port_ids), "former_groups": list(former_groups)},
    )
    return {group_id for group_id in rows if group_id is not None}


@functools.cache
def _groups_to_refresh_statement() -> CompoundSelect[str | None]:
    # Built once: every server's build and delete runs it.
    membership = select(PortSecurityGroup.security_group_id).where(
        PortSecurityGroup.port_id.in_(bindparam("port_ids", expanding=True))
    )
    member_of = select(SecurityGroup.id).where(
        or_(
            SecurityGroup.id.in_(membership),
            SecurityGroup.id.in_(bindparam("former_groups", expanding=True)),
        ),
        named_by_a_live_rule(SecurityGroup.id),
    )
    named_by_theirs = select(SecurityGroupRule.remote_group_id).where(
        SecurityGroupRule.security_group_id.in_(membership),
        SecurityGroupRule.remote_group_id.is_not(None),
    )
    return union(member_of, named_by_theirs)


def named_by_a_live_rule(group_id: ColumnExpressionArgument[str]) -> ColumnElement[bool]:
    """Whether a rule of a live group names ``group_id`` as its peer."""
    rule, owner = aliased(SecurityGroupRule), aliased(SecurityGroup)
    return exists().where(
        rule.remote_group_id == group_id,
        owner.id == rule.security_group_id,
        owner.deleted_key == LIVE,
    )


async def peers_of_groups(
    session: AsyncSession, group_ids: Collection[str] | None
) -> dict[str, GroupPeers]:
    """Each group's peers: the fixed IPs of its live ports, sorted. ``None`` asks for every
    group a live rule names (what the backend should hold)."""
    if group_ids is None:
        group_ids = list(
            await session.scalars(
                select(SecurityGroup.id).where(named_by_a_live_rule(SecurityGroup.id))
            )
        )
    addresses: dict[str, set[str]] = defaultdict(set)
    if group_ids:
        rows = await session.execute(
            select(PortSecurityGroup.security_group_id, Port.fixed_ips)
            .join(Port, Port.id == PortSecurityGroup.port_id)
            .where(
                PortSecurityGroup.security_group_id.in_(list(group_ids)),
                Port.deleted_key == LIVE,
            )
        )
        for group_id, fixed_ips in rows:
            addresses[group_id].update(fixed_ips)
    return {
        group_id: GroupPeers(id=group_id, addresses=tuple(sorted(addresses[group_id])))
        for group_id in group_ids
    }


async def reconcile_group_peers(runtime: Runtime) -> int:
    """Make the backend's lists those of the database; returns how many it set again.

    The backend is listed first, so a list set after that is not taken for an orphan. A list
    that no live rule needs any more is deleted, after checking again under the group's
    refresh lock that none has come to need it meanwhile.
    """
    if not keeps_peers(runtime):
        return 0
    try:
        held = {peers.id: set(peers.addresses) for peers in await runtime.driver.list_group_peers()}
    except DriverError as exc:
        log.warning("group_peers_reconcile_skipped", reason=str(exc) or exc.code)
        return 0
    async with unit_of_work(runtime.sessions) as session:
        wanted = await peers_of_groups(session, None)
    stale = [gid for gid, peers in wanted.items() if held.get(gid) != set(peers.addresses)]
    repaired = 0
    for group_id in stale:
        repaired += await _set_again(runtime, group_id)
    for group_id in held.keys() - wanted.keys():
        await _forget_unless_named(runtime, group_id)
    return repaired


async def _set_again(runtime: Runtime, group_id: str) -> int:
    """Refresh one group's list found stale, with an audit record; 1 when this call set it
    (0 when it failed, or when a refresh that began meanwhile set it)."""

    async def refresh() -> None:
        peers = await _push(runtime, group_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            project_id = await session.scalar(
                select(SecurityGroup.project_id).where(SecurityGroup.id == group_id)
            )
            record_repair(
                session,
                RECONCILER,
                action="reconcile.set_group_peers",
                resource_type="security-groups",
                resource_id=group_id,
                project_id=project_id,
            )
        log.warning("group_peers_set_again", group_id=group_id, peers=len(peers.addresses))

    try:
        ran = await runtime.peer_refreshes.run(group_id, refresh)
    except DriverError as exc:
        log.warning("group_peers_not_set", group_id=group_id, reason=str(exc) or exc.code)
        return 0
    return 1 if ran else 0


async def _forget_unless_named(runtime: Runtime, group_id: str) -> None:
    """Delete the backend's list of a group that no live rule names (checked again here)."""

    async def forget() -> None:
        async with unit_of_work(runtime.sessions) as session:
            named = await session.scalar(select(named_by_a_live_rule(literal(group_id))))
        if not named:
            await runtime.driver.delete_group_peers(group_id)
            log.info("group_peers_deleted", group_id=group_id)

    try:
        await runtime.peer_refreshes.run(group_id, forget)
    except DriverError as exc:
        log.warning("group_peers_not_deleted", group_id=group_id, reason=str(exc) or exc.code)
