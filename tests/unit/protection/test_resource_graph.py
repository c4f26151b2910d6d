"""The resource graph puts dependencies first, visits shared ones once, and refuses loops."""

from __future__ import annotations

from typing import Any

import pytest

from cloudplane.protection.graph import GraphLoop, MissingResource, as_graph_json, build_graph
from cloudplane.protection.protectables import Protectable, ResourceRef


def ref(kind: str, name: str) -> ResourceRef:
    return ResourceRef(kind, name)


def loader_over(edges: dict[ResourceRef, list[ResourceRef]]) -> Any:
    async def load(_session: Any, _project_id: str, wanted: ResourceRef) -> Protectable | None:
        if wanted not in edges:
            return None
        return Protectable(ref=wanted, name=wanted.id, dependencies=list(edges[wanted]))

    return load


async def test_dependencies_come_before_dependants_and_shared_ones_appear_once() -> None:
    image, net = ref("image", "img"), ref("network", "net")
    vol_a, vol_b = ref("volume", "a"), ref("volume", "b")
    web, db = ref("server", "web"), ref("server", "db")
    edges = {
        image: [],
        net: [],
        vol_a: [],
        vol_b: [],
        web: [vol_a, image, net],
        db: [vol_b, image, net, ref("image", "deleted-meanwhile")],
    }

    nodes = await build_graph(None, "p", [web, db], loader=loader_over(edges))  # type: ignore[arg-type]

    order = [node.ref for node in nodes]
    assert order == [vol_a, image, net, web, vol_b, db]
    graph = as_graph_json(nodes)
    db_children = next(node["children"] for node in graph if node["id"] == "db")
    assert {"type": "image", "id": "deleted-meanwhile"} not in db_children


async def test_a_dependency_loop_is_refused_with_its_path() -> None:
    first, second = ref("server", "first"), ref("volume", "second")
    edges = {first: [second], second: [first]}

    with pytest.raises(GraphLoop, match="server first → volume second → server first"):
        await build_graph(None, "p", [first], loader=loader_over(edges))  # type: ignore[arg-type]


async def test_a_missing_root_is_reported() -> None:
    with pytest.raises(MissingResource):
        await build_graph(None, "p", [ref("server", "gone")], loader=loader_over({}))  # type: ignore[arg-type]
