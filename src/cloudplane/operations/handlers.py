"""The registry that maps an operation's ``(resource_type, action)`` to the code that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cloudplane.operations.models import Operation
    from cloudplane.runtime import Runtime


class OperationHandler(Protocol):
    """Runs one kind of operation. Both methods must be idempotent.

    ``run`` does the backend work and, in one transaction, writes the resource's final state
    and marks the operation succeeded. ``fail`` puts the resource into its failed state and marks
    the operation failed; it is called when ``run`` raised, when the attempts are used up, or when
    the deadline passed.
    """

    async def run(self, runtime: Runtime, operation: Operation) -> None: ...

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None: ...


@dataclass(slots=True)
class HandlerRegistry:
    _handlers: dict[tuple[str, str], OperationHandler] = field(default_factory=dict)

    def register(self, resource_type: str, action: str, handler: OperationHandler) -> None:
        key = (resource_type, action)
        if key in self._handlers:
            raise ValueError(f"a handler for {resource_type}/{action} is already registered")
        self._handlers[key] = handler

    def get(self, resource_type: str, action: str) -> OperationHandler | None:
        return self._handlers.get((resource_type, action))
