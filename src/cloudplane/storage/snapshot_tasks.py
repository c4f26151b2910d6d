"""Worker-side snapshot operations: take it on the backend, or remove it there."""

from __future__ import annotations

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.states import SnapshotStatus


class CreateSnapshot:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            snapshot = await repository.get_snapshot(session, operation.resource_id)
        if snapshot is None or snapshot.status != SnapshotStatus.CREATING.value:
            await _finish(runtime, operation, "the snapshot is no longer being created")
            return
        await runtime.driver.create_snapshot(snapshot.id, snapshot.volume_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            done = await repository.compare_and_set_snapshot(
                session,
                snapshot.id,
                expect={"status": SnapshotStatus.CREATING.value},
                values={"status": SnapshotStatus.AVAILABLE.value, "error_message": None},
            )
            if done:
                await finish_operation(session, operation.id)
                return
        # Failed by its deadline while the backend worked: remove what was taken.
        await runtime.driver.delete_snapshot(snapshot.id)
        await _finish(runtime, operation, "the snapshot stopped being created meanwhile")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _fail(runtime, operation, SnapshotStatus.CREATING, reason)


class DeleteSnapshot:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            snapshot = await repository.get_snapshot(session, operation.resource_id)
        if snapshot is None or snapshot.status != SnapshotStatus.DELETING.value:
            await _finish(runtime, operation, "the snapshot is no longer being deleted")
            return
        await runtime.driver.delete_snapshot(snapshot.id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_snapshot(
                session,
                snapshot.id,
                expect={"status": SnapshotStatus.DELETING.value},
                values={
                    "status": SnapshotStatus.DELETED.value,
                    "deleted_at": utcnow(),
                    "deleted_key": snapshot.id,
                },
            )
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _fail(runtime, operation, SnapshotStatus.DELETING, reason)


async def _fail(
    runtime: Runtime, operation: Operation, expected: SnapshotStatus, reason: str
) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await repository.compare_and_set_snapshot(
            session,
            operation.resource_id,
            expect={"status": expected.value},
            values={"status": SnapshotStatus.ERROR.value, "error_message": reason[:1024]},
        )
        await finish_operation(session, operation.id, error=reason)


async def _finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)
