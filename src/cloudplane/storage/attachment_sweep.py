"""The periodic leak sweep for volumes: attachments (and boot volumes) of deleted servers.

A server delete releases its volumes, but a crash between the server's delete and the release,
or a volume busy with another operation at that moment, can leave a volume attached to a server
that no longer exists. The sweep finds those once they have settled and releases them the same
way (a ``detach``, or a ``delete`` for the server's own boot volume), writing one audit record
per repair (``user_id`` null, ``request_id`` ``sweeper``).
"""

from __future__ import annotations

from sqlalchemy import select

from cloudplane.audit.repairs import SWEEPER, record_repair
from cloudplane.compute.models import Server
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime
from cloudplane.storage.models import Volume, VolumeAttachment
from cloudplane.storage.server_volume_lifecycle import release_volume

log = get_logger(__name__)

_BATCH = 500


async def sweep_volume_attachments(runtime: Runtime) -> int:
    """One round; returns how many volumes it released."""
    async with unit_of_work(runtime.sessions) as session:
        attached = await session.execute(
            select(VolumeAttachment.volume_id, VolumeAttachment.server_id)
            .join(Server, Server.id == VolumeAttachment.server_id)
            .where(Server.deleted_key != LIVE)
            .limit(_BATCH)
        )
        owned = await session.execute(
            select(Volume.id, Volume.owner_server_id)
            .join(Server, Server.id == Volume.owner_server_id)
            .where(Server.deleted_key != LIVE, Volume.deleted_key == LIVE)
            .limit(_BATCH)
        )
        leaked = sorted(
            {(volume_id, server_id) for volume_id, server_id in attached.all()}
            | {(volume_id, server_id) for volume_id, server_id in owned.all() if server_id}
        )
    repaired = 0
    for volume_id, server_id in leaked:
        async with unit_of_work(runtime.sessions, write=True) as session:
            action = await release_volume(session, runtime, volume_id, server_id)
            if action is None:
                continue  # busy with an operation; looked at again on the next round
            volume = await session.get(Volume, volume_id)
            record_repair(
                session,
                SWEEPER,
                action=f"sweep.{action}",
                resource_type="volumes",
                resource_id=volume_id,
                project_id=volume.project_id if volume else None,
                status_code=202,
            )
        repaired += 1
        log.warning("volume_attachment_leak_repaired", volume_id=volume_id, server_id=server_id)
    return repaired
