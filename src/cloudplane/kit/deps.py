"""FastAPI dependencies shared by every feature: the runtime and the request's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import unit_of_work
from cloudplane.runtime import Runtime

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: committed when the endpoint returns, rolled back on error.

    Mutating requests start as writers so that SQLite hands out its write lock up front.
    """
    write = request.method in _WRITE_METHODS
    async with unit_of_work(runtime.sessions, write=write) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
