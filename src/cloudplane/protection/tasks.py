"""Registers the protection operations with the handler registry."""

from __future__ import annotations

from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.protection.protect_tasks import DeleteCheckpoint, ProtectCheckpoint
from cloudplane.protection.restore_tasks import RunRestore, RunVerification
from cloudplane.protection.states import CHECKPOINT, RESTORE, VERIFICATION, Action


def register_protection_handlers(registry: HandlerRegistry) -> None:
    registry.register(CHECKPOINT, Action.PROTECT.value, ProtectCheckpoint())
    registry.register(CHECKPOINT, Action.DELETE.value, DeleteCheckpoint())
    registry.register(RESTORE, Action.RESTORE.value, RunRestore())
    registry.register(VERIFICATION, Action.VERIFY.value, RunVerification())
