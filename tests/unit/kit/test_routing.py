from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Match

from cloudplane.kit.routing import PrefixedRouter


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": ""}


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_path_outside_the_prefix_is_no_match_without_trying_the_routes() -> None:
    router = PrefixedRouter(prefix="/api/v1/things")
    tried: list[str] = []

    @router.get("/{thing_id}")
    async def show(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    original = router.routes[0].matches

    def counting(scope: Any) -> Any:
        tried.append(scope["path"])
        return original(scope)

    router.routes[0].matches = counting  # type: ignore[method-assign]
    app = FastAPI()
    app.include_router(router)
    async with _client(app) as client:
        assert (await client.get("/api/v1/other/1")).status_code == 404
        assert tried == []
        assert (await client.get("/api/v1/things/7")).json() == {"id": "7"}
        # FastAPI matches the chosen route again when it hands the request over.
        assert set(tried) == {"/api/v1/things/7"}


async def test_a_router_without_a_prefix_tries_its_routes() -> None:
    router = PrefixedRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app = FastAPI()
    app.include_router(router)
    async with _client(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert router.matches(_scope("/elsewhere"))[0] is Match.NONE


async def test_a_prefix_with_a_parameter_is_judged_by_its_literal_start() -> None:
    router = PrefixedRouter(prefix="/api/v1/projects/{project_id}/members")

    @router.get("/{user_id}")
    async def show(project_id: str, user_id: str) -> dict[str, str]:
        return {"project": project_id, "user": user_id}

    app = FastAPI()
    app.include_router(router)
    async with _client(app) as client:
        shown = await client.get("/api/v1/projects/p1/members/u1")
        assert shown.json() == {"project": "p1", "user": "u1"}
    assert router.matches(_scope("/api/v1/users/u1"))[0] is Match.NONE
