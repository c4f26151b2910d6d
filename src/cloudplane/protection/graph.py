"""The resource graph of a plan: every resource and what it depends on, children first.

Protecting walks the graph in this order (a server's volumes are saved before the server's
record is finished) and restoring too (volumes exist before the servers that attach them). A
dependency loop is refused rather than walked forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.protection import protectables
from cloudplane.protection.protectables import Protectable, ResourceRef

Loader = Callable[[AsyncSession, str, ResourceRef], Awaitable[Protectable | None]]


class GraphLoop(ValueError):
    """The dependencies of some resource lead back to it."""


class MissingResource(LookupError):
    def __init__(self, ref: ResourceRef) -> None:
        super().__init__(f"{ref.type} {ref.id} does not exist in this project")
        self.ref = ref


async def build_graph(
    session: AsyncSession,
    project_id: str,
    roots: Iterable[ResourceRef],
    *,
    loader: Loader = protectables.load,
) -> list[Protectable]:
    """Every resource reachable from ``roots``, each once, dependencies before dependants.

    ``MissingResource`` when a root is gone; a dependency that is gone is left out (a server's
    image may have been deleted since). ``GraphLoop`` on a cycle.
    """
    ordered: list[Protectable] = []
    done: set[ResourceRef] = set()
    visiting: list[ResourceRef] = []

    async def visit(ref: ResourceRef, *, required: bool) -> None:
        if ref in done:
            return
        if ref in visiting:
            path = " → ".join(f"{r.type} {r.id}" for r in [*visiting, ref])
            raise GraphLoop(f"resource dependencies form a loop: {path}")
        node = await loader(session, project_id, ref)
        if node is None:
            if required:
                raise MissingResource(ref)
            return
        visiting.append(ref)
        for child in node.dependencies:
            await visit(child, required=False)
        visiting.pop()
        done.add(ref)
        ordered.append(node)

    for root in roots:
        await visit(root, required=True)
    return ordered


def as_graph_json(nodes: Iterable[Protectable]) -> list[dict[str, Any]]:
    """The ``resource_graph`` of a checkpoint: nodes with their children (those in it)."""
    nodes = list(nodes)
    present = {node.ref for node in nodes}
    return [
        {
            "type": node.ref.type,
            "id": node.ref.id,
            "name": node.name,
            "children": [
                {"type": child.type, "id": child.id}
                for child in node.dependencies
                if child in present
            ],
        }
        for node in nodes
    ]
