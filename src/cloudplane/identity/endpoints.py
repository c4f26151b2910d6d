"""The identity feature's HTTP routers, in the order the application mounts them."""

from __future__ import annotations

from fastapi import APIRouter

from cloudplane.identity.api_key_endpoints import router as api_key_router
from cloudplane.identity.auth_endpoints import router as auth_router
from cloudplane.identity.member_endpoints import router as member_router
from cloudplane.identity.project_endpoints import router as project_router
from cloudplane.identity.user_endpoints import router as user_router

routers: list[APIRouter] = [
    auth_router,
    project_router,
    member_router,
    user_router,
    api_key_router,
]
