"""Queries over the protection tables, and the usage they count toward quotas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import LIVE
from cloudplane.protection.models import Checkpoint, ProtectionPlan, ScheduledOperation
from cloudplane.protection.states import CheckpointStatus

Row = TypeVar("Row")


def scoped(model: Any, *, project_id: str | None, include_deleted: bool = False) -> Select[Any]:
    """Rows of ``model`` in the project (all projects when None), live ones unless asked."""
    stmt = select(model)
    if project_id is not None:
        stmt = stmt.where(model.project_id == project_id)
    if not include_deleted and hasattr(model, "deleted_key"):
        stmt = stmt.where(model.deleted_key == LIVE)
    return stmt


async def get_live(
    session: AsyncSession, model: type[Row], row_id: str, *, for_update: bool = False
) -> Row | None:
    stmt: Select[Any] = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if hasattr(model, "deleted_key"):
        stmt = stmt.where(model.deleted_key == LIVE)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row: Row | None = await session.scalar(stmt)
    return row


async def compare_and_set(
    session: AsyncSession,
    model: Any,
    row_id: str,
    *,
    expect: Mapping[str, object],
    values: Mapping[str, object],
) -> bool:
    """``UPDATE … SET values WHERE id AND every expected column matches``; True if it did."""
    stmt = update(model).where(model.id == row_id)
    for column, wanted in expect.items():
        attribute = getattr(model, column)
        if isinstance(wanted, (set, frozenset, tuple, list)):
            stmt = stmt.where(attribute.in_(list(wanted)))
        elif wanted is None:
            stmt = stmt.where(attribute.is_(None))
        else:
            stmt = stmt.where(attribute == wanted)
    result = await session.execute(
        stmt.values(**values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def protection_usage(session: AsyncSession, project_id: str) -> Mapping[str, int]:
    """Live plans and checkpoints of a project (a UsageCounter); deleted checkpoints and ones
    being deleted no longer count."""
    plans = await session.scalar(
        select(func.count(ProtectionPlan.id)).where(
            ProtectionPlan.project_id == project_id, ProtectionPlan.deleted_key == LIVE
        )
    )
    checkpoints = await session.scalar(
        select(func.count(Checkpoint.id)).where(
            Checkpoint.project_id == project_id,
            Checkpoint.deleted_key == LIVE,
            Checkpoint.status != CheckpointStatus.DELETING.value,
        )
    )
    return {"plans": int(plans or 0), "checkpoints": int(checkpoints or 0)}


async def operations_using(session: AsyncSession, column: Any, value: str) -> int:
    """Live scheduled operations whose ``column`` (plan or trigger) is ``value``."""
    count = await session.scalar(
        select(func.count(ScheduledOperation.id)).where(
            column == value, ScheduledOperation.deleted_key == LIVE
        )
    )
    return int(count or 0)
