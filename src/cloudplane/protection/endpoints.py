"""Every data-protection router, in the order the OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from cloudplane.protection.checkpoint_endpoints import router as checkpoint_router
from cloudplane.protection.log_endpoints import router as log_router
from cloudplane.protection.plan_endpoints import router as plan_router
from cloudplane.protection.provider_endpoints import router as provider_router
from cloudplane.protection.restore_endpoints import restore_router, verification_router
from cloudplane.protection.scheduled_operation_endpoints import (
    router as scheduled_operation_router,
)
from cloudplane.protection.trigger_endpoints import router as trigger_router

routers: list[APIRouter] = [
    provider_router,
    plan_router,
    trigger_router,
    scheduled_operation_router,
    checkpoint_router,
    restore_router,
    verification_router,
    log_router,
]
