"""``/healthz``, ``/readyz``, ``/metrics`` and ``/api/v1/version``."""

from __future__ import annotations

import asyncio

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from cloudplane import __version__
from cloudplane.kit.deps import RuntimeDep
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(tags=["meta"])

_CHECK_TIMEOUT_S = 3.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class Version(BaseModel):
    version: str
    driver: str
    capabilities: list[str]


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: answers while the process serves, without checking dependencies."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Readiness, "description": "not ready"}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: 200 when the database, broker and driver answer, else 503 naming which failed."""
    checks = {
        "database": await _check(_ping_database(runtime)),
        "driver": await _check(runtime.driver.check()),
        "broker": await _check(runtime.queue.check()) if runtime.queue else "not configured",
    }
    ready = all(state in ("ok", "not configured") for state in checks.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    headers = None if ready else {"Retry-After": "5"}
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503, headers=headers)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/version")
async def version(runtime: RuntimeDep) -> Version:
    """The service version, its driver and the driver's capabilities."""
    return Version(
        version=__version__,
        driver=runtime.driver.name,
        capabilities=sorted(c.value for c in runtime.driver.capabilities),
    )


async def _ping_database(runtime: RuntimeDep) -> None:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(probe: object) -> str:
    try:
        await asyncio.wait_for(probe, timeout=_CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:200]
    return "ok"
