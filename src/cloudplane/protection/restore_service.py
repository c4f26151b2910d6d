"""Restore and verification rules: of an ``available`` checkpoint the caller may see, with
parameters the provider's ``restore_schema`` accepts (in place: where the provider offers it,
with none); the work runs in a worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.protection import oplog
from cloudplane.protection.checkpoint_service import get_checkpoint
from cloudplane.protection.models import Checkpoint, Restore, Verification
from cloudplane.protection.plan_service import visible
from cloudplane.protection.schemas import RestoreCreate, VerificationCreate
from cloudplane.protection.states import (
    RESTORE,
    VERIFICATION,
    Action,
    CheckpointStatus,
    LogType,
    RunStatus,
)
from cloudplane.protection.validation import checked, provider_by_id
from cloudplane.runtime import Runtime


async def get_restore(session: AsyncSession, principal: Principal, restore_id: str) -> Restore:
    restore = await session.get(Restore, restore_id)
    if restore is None or not visible(principal, restore.project_id):
        raise NotFound("restore", restore_id)
    return restore


async def get_verification(
    session: AsyncSession, principal: Principal, verification_id: str
) -> Verification:
    verification = await session.get(Verification, verification_id)
    if verification is None or not visible(principal, verification.project_id):
        raise NotFound("verification", verification_id)
    return verification


async def _readable_checkpoint(
    session: AsyncSession, principal: Principal, checkpoint_id: str
) -> Checkpoint:
    """The checkpoint, share-locked so a delete waits for this request; 409 unless available."""
    checkpoint = await get_checkpoint(session, principal, checkpoint_id)
    await session.refresh(checkpoint, with_for_update={"read": True})
    if checkpoint.status != CheckpointStatus.AVAILABLE.value:
        raise Conflict(
            f"checkpoint {checkpoint_id} is {checkpoint.status}; only an available one is read",
            status=checkpoint.status,
        )
    return checkpoint


async def create_restore(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: RestoreCreate
) -> tuple[Restore, Operation]:
    """Store an ``in_progress`` restore and start it.

    ``target: in_place`` is 501 for a provider that restores to new resources only, and takes
    no parameters (422); a restore to new resources gets 422 for parameters the provider's
    ``restore_schema`` refuses.
    """
    checkpoint = await _readable_checkpoint(session, principal, body.checkpoint_id)
    provider = provider_by_id(runtime.settings, checkpoint.provider_id)
    if body.target == "in_place":
        if not provider.restores_in_place:
            raise NotSupported(
                f"the {provider.name} provider restores to new resources only",
                provider_id=provider.id,
            )
        if body.parameters:
            raise ValidationFailed(
                "a restore in place takes no parameters; they name the new resources",
                field="body.parameters",
            )
        parameters: dict[str, Any] = {}
    else:
        parameters = checked(
            provider.restore_model, body.parameters, field="body.parameters"
        ).model_dump(mode="json")
    restore = Restore(
        id=new_id(),
        project_id=checkpoint.project_id,
        user_id=principal.user_id,
        checkpoint_id=checkpoint.id,
        target=body.target,
        parameters=parameters,
        status=RunStatus.IN_PROGRESS.value,
        resources_status={},
        resources_reason={},
        restored={},
    )
    session.add(restore)
    await session.flush()
    oplog.open_log(
        session,
        project_id=restore.project_id,
        operation_type=LogType.RESTORE,
        plan_id=checkpoint.plan_id,
        checkpoint_id=checkpoint.id,
        restore_id=restore.id,
    )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=Action.RESTORE.value,
        resource_type=RESTORE,
        resource_id=restore.id,
        deadline_s=runtime.settings.protection_deadline_s,
    )
    return restore, operation


async def create_verification(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: VerificationCreate
) -> tuple[Verification, Operation]:
    """Store an ``in_progress`` verification of an available checkpoint and start it."""
    checkpoint = await _readable_checkpoint(session, principal, body.checkpoint_id)
    verification = Verification(
        id=new_id(),
        project_id=checkpoint.project_id,
        user_id=principal.user_id,
        checkpoint_id=checkpoint.id,
        status=RunStatus.IN_PROGRESS.value,
        resources_status={},
        resources_reason={},
    )
    session.add(verification)
    await session.flush()
    oplog.open_log(
        session,
        project_id=verification.project_id,
        operation_type=LogType.VERIFY,
        plan_id=checkpoint.plan_id,
        checkpoint_id=checkpoint.id,
        verification_id=verification.id,
    )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=Action.VERIFY.value,
        resource_type=VERIFICATION,
        resource_id=verification.id,
        deadline_s=runtime.settings.protection_deadline_s,
    )
    return verification, operation
