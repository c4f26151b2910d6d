"""Worker side of restores and verifications.

A restore to new resources makes new volumes first (with the saved data) and then new servers
that boot from and attach them, following the checkpoint's graph order; images and networks are
not copied but reused as they are, so they restore as long as they still exist. A restore in
place writes the saved data back into the protected volumes (``restore_in_place``). Each
resource gets its status (``success``/``fail``) and reason under ``Type#id``; the restore
succeeds when all do.
A verification recomputes each volume's checksum (or finds its snapshot) and fails exactly the
resources whose data is not whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation
from cloudplane.protection import oplog, repository
from cloudplane.protection.models import Checkpoint, Restore, Verification
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.providers import build_providers
from cloudplane.protection.providers.backup import RestoreOptions
from cloudplane.protection.restore_building import kept_resource, restore_server, restore_volume
from cloudplane.protection.restore_in_place import abandon_restoring_volumes, restore_in_place
from cloudplane.protection.states import LogType, ResourceStatus, ResourceType, RunStatus
from cloudplane.runtime import Runtime

SUCCESS, FAIL = RunStatus.SUCCESS.value, RunStatus.FAIL.value


def _key(resource: dict[str, Any]) -> str:
    return ResourceRef(str(resource["type"]), str(resource["id"])).key


class RunRestore:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            restore = await session.get(Restore, operation.resource_id)
            checkpoint = await session.get(Checkpoint, restore.checkpoint_id) if restore else None
        if restore is None or checkpoint is None or restore.status != RunStatus.IN_PROGRESS.value:
            await _finish(runtime, operation, "the restore is no longer in progress")
            return
        principal = Principal(
            user_id=restore.user_id,
            username="restore",
            project_id=restore.project_id,
            roles=frozenset({Role.MEMBER}),
        )
        provider = build_providers(runtime.settings)[checkpoint.provider_id]
        options = RestoreOptions.model_validate(restore.parameters)
        status: dict[str, str] = {}
        reasons: dict[str, str] = {}
        made: dict[str, str] = dict(restore.restored)
        volumes_made: dict[str, str] = {}
        for resource in checkpoint.resources:
            key = _key(resource)
            if resource["status"] != ResourceStatus.AVAILABLE.value:
                status[key], reasons[key] = FAIL, "it was not protected in this checkpoint"
                continue
            try:
                if restore.target == "in_place":
                    new_id = await restore_in_place(
                        runtime, principal, provider, restore.id, key, resource, made.get(key)
                    )
                else:
                    new_id = await self._restore_one(
                        runtime,
                        principal,
                        provider,
                        options,
                        restore.id,
                        resource,
                        made,
                        volumes_made,
                    )
            except Exception as exc:  # recorded per resource; the others go on
                status[key], reasons[key] = FAIL, (str(exc) or type(exc).__name__)[:1024]
                continue
            status[key] = SUCCESS
            made[key] = new_id
            if resource["type"] == ResourceType.VOLUME.value:
                volumes_made[str(resource["id"])] = new_id
        error = (
            None
            if all(value == SUCCESS for value in status.values())
            else "; ".join(f"{key}: {reason}" for key, reason in reasons.items())
        )
        async with unit_of_work(runtime.sessions, write=True) as session:
            # Keep the ids of resources made for failed ones too, so they can be found.
            current = await session.get(Restore, restore.id, populate_existing=True)
            made = {**(current.restored if current else {}), **made}
            await repository.compare_and_set(
                session,
                Restore,
                restore.id,
                expect={"status": RunStatus.IN_PROGRESS.value},
                values={
                    "status": FAIL if error else SUCCESS,
                    "resources_status": status,
                    "resources_reason": reasons,
                    "restored": made,
                    "updated_at": utcnow(),
                },
            )
            await _close(session, LogType.RESTORE, "restore_id", restore.id, error)
            await finish_operation(session, operation.id, error=error)

    async def _restore_one(
        self,
        runtime: Runtime,
        principal: Principal,
        provider: Any,
        options: RestoreOptions,
        restore_id: str,
        resource: dict[str, Any],
        made: dict[str, str],
        volumes_made: dict[str, str],
    ) -> str:
        key, kind = _key(resource), resource["type"]
        if kind == ResourceType.VOLUME.value:
            return await restore_volume(
                runtime, principal, provider, options, restore_id, key, resource, made.get(key)
            )
        if kind == ResourceType.SERVER.value:
            return await restore_server(
                runtime, principal, options, restore_id, key, resource, volumes_made, made.get(key)
            )
        return await kept_resource(runtime, principal, resource)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            stopped = await repository.compare_and_set(
                session,
                Restore,
                operation.resource_id,
                expect={"status": RunStatus.IN_PROGRESS.value},
                values={"status": FAIL, "updated_at": utcnow()},
            )
            if stopped:
                restore = await session.get(Restore, operation.resource_id)
                if restore is not None:
                    await abandon_restoring_volumes(session, restore)
            await _close(session, LogType.RESTORE, "restore_id", operation.resource_id, reason)
            await finish_operation(session, operation.id, error=reason)


class RunVerification:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            verification = await session.get(Verification, operation.resource_id)
            checkpoint = (
                await session.get(Checkpoint, verification.checkpoint_id) if verification else None
            )
        if (
            verification is None
            or checkpoint is None
            or verification.status != RunStatus.IN_PROGRESS.value
        ):
            await _finish(runtime, operation, "the verification is no longer in progress")
            return
        provider = build_providers(runtime.settings)[checkpoint.provider_id]
        status: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for resource in checkpoint.resources:
            key = _key(resource)
            if resource["status"] != ResourceStatus.AVAILABLE.value:
                status[key], reasons[key] = FAIL, "it was not protected in this checkpoint"
                continue
            if resource["type"] != ResourceType.VOLUME.value:
                status[key] = SUCCESS  # kept as metadata in the checkpoint itself
                continue
            try:
                reason = await provider.verify_volume(runtime, resource["saved"])
            except Exception as exc:  # an unreadable store is a failed check, not a crash
                reason = str(exc) or type(exc).__name__
            status[key] = FAIL if reason else SUCCESS
            if reason:
                reasons[key] = reason[:1024]
        error = "; ".join(f"{key}: {reason}" for key, reason in reasons.items()) or None
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Verification,
                verification.id,
                expect={"status": RunStatus.IN_PROGRESS.value},
                values={
                    "status": FAIL if error else SUCCESS,
                    "resources_status": status,
                    "resources_reason": reasons,
                    "updated_at": utcnow(),
                },
            )
            await _close(session, LogType.VERIFY, "verification_id", verification.id, error)
            await finish_operation(session, operation.id, error=error)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Verification,
                operation.resource_id,
                expect={"status": RunStatus.IN_PROGRESS.value},
                values={"status": FAIL, "updated_at": utcnow()},
            )
            await _close(session, LogType.VERIFY, "verification_id", operation.resource_id, reason)
            await finish_operation(session, operation.id, error=reason)


async def _close(
    session: AsyncSession, kind: LogType, column: str, subject_id: str, error: str | None
) -> None:
    await oplog.close_logs(
        session, operation_types=(kind,), subject_column=column, subject_id=subject_id, error=error
    )


async def _finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)
