"""``create_app(settings)``: the API's composition root."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloudplane import __version__
from cloudplane.audit.endpoints import router as audit_router
from cloudplane.audit.recorder import AuditRecorder
from cloudplane.bootstrap import build_runtime, close_runtime
from cloudplane.catalogue_sync import sync_catalogue_job
from cloudplane.compute.drift_watch import DriftWatch
from cloudplane.compute.endpoints import router as compute_router
from cloudplane.compute.flavor_endpoints import router as flavor_router
from cloudplane.compute.reconciler import reconcile_servers_job
from cloudplane.hosts.endpoints import router as host_router
from cloudplane.hosts.refresh import refresh_hosts
from cloudplane.identity.endpoints import routers as identity_routers
from cloudplane.images.endpoints import router as image_router
from cloudplane.images.service import release_interrupted_uploads
from cloudplane.kit.errors import install_error_handlers
from cloudplane.kit.idempotency import install_replay_handler
from cloudplane.kit.logging import configure_logging
from cloudplane.kit.metrics import ApiMetrics
from cloudplane.kit.middleware import RequestMiddleware
from cloudplane.meta.endpoints import router as meta_router
from cloudplane.network.floating_ip_endpoints import router as floating_ip_router
from cloudplane.network.network_endpoints import router as network_router
from cloudplane.network.port_endpoints import router as port_router
from cloudplane.network.port_reconciler import reconcile_ports_job
from cloudplane.network.security_group_endpoints import router as security_group_router
from cloudplane.network.security_group_endpoints import rule_router as security_group_rule_router
from cloudplane.network.sweeper import sweep_network_leaks
from cloudplane.operations.endpoints import router as operation_router
from cloudplane.operations.event_stream import router as event_router
from cloudplane.operations.scheduler import JobSpec, Scheduler
from cloudplane.operations.sweeper import recover_after_restart, sweep_operations
from cloudplane.protection.endpoints import routers as protection_routers
from cloudplane.protection.scheduling import fire_due_operations_job
from cloudplane.runtime import Runtime
from cloudplane.seed import prepare_database
from cloudplane.settings import Settings
from cloudplane.storage.attachment_endpoints import router as attachment_router
from cloudplane.storage.attachment_sweep import sweep_volume_attachments
from cloudplane.storage.pool_endpoints import router as storage_pool_router
from cloudplane.storage.reconciler import reconcile_volumes_job
from cloudplane.storage.snapshot_endpoints import router as snapshot_router
from cloudplane.storage.volume_endpoints import router as volume_router
from cloudplane.storage.volume_type_endpoints import router as volume_type_router

OPENAPI_TAGS = [
    {"name": "meta", "description": "Health, readiness, metrics and version."},
    {"name": "identity", "description": "Tokens, projects, users, memberships, keys, quotas."},
    {"name": "compute", "description": "Flavors and servers."},
    {"name": "images", "description": "Bootable disk images."},
    {"name": "storage", "description": "Storage pools, volume types, volumes and snapshots."},
    {
        "name": "network",
        "description": "Networks, ports, floating IPs and security groups.",
    },
    {
        "name": "protection",
        "description": "Data protection: providers, plans, triggers, checkpoints and restores.",
    },
    {"name": "operations", "description": "Asynchronous work and its events."},
    {"name": "audit", "description": "The record of every mutating request."},
]


async def sweep_leaks(runtime: Runtime) -> None:
    """Ports, floating-IP associations and volume attachments left by deleted servers."""
    await sweep_network_leaks(runtime)
    await sweep_volume_attachments(runtime)


def periodic_jobs(settings: Settings) -> list[JobSpec]:
    """The jobs every scheduler replica runs (each firing claimed by one replica)."""
    return [
        JobSpec("operations.sweep", settings.sweep_interval_s, sweep_operations),
        JobSpec("servers.reconcile", settings.reconcile_interval_s, reconcile_servers_job),
        JobSpec("volumes.reconcile", settings.reconcile_interval_s, reconcile_volumes_job),
        JobSpec("ports.reconcile", settings.reconcile_interval_s, reconcile_ports_job),
        JobSpec("leaks.sweep", settings.leak_sweep_interval_s, sweep_leaks),
        JobSpec("protection.fire", settings.protection_tick_s, fire_due_operations_job),
        *catalogue_jobs(settings),
        JobSpec("hosts.refresh", settings.host_check_interval_s, refresh_hosts),
    ]


def catalogue_jobs(settings: Settings) -> list[JobSpec]:
    """Importing the cloud's flavors and images: due at start, then every interval."""
    if settings.driver != "openstack":
        return []
    interval_s = settings.openstack_catalogue_sync_interval_s
    return [JobSpec("catalogue.sync", interval_s, sync_catalogue_job)]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application. Nothing connects until the lifespan starts."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings)
        runtime.metrics = metrics
        await prepare_database(runtime)
        app.state.runtime = runtime
        if runtime.queue is not None:
            await runtime.queue.start()
            if runtime.queue.in_process:
                await recover_after_restart(runtime)
                await release_interrupted_uploads(runtime)
        scheduler = Scheduler(runtime, periodic_jobs(settings), tick_s=settings.scheduler_tick_s)
        drift_watch = DriftWatch(runtime)
        if settings.run_scheduler:
            await scheduler.start()
            await drift_watch.start()
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise stall requests for ~100 ms each.
        gc.freeze()
        try:
            yield
        finally:
            await drift_watch.stop()
            await scheduler.stop()
            await close_runtime(runtime)

    app = FastAPI(
        title="cloudplane",
        version=__version__,
        description="A self-hosted cloud control plane.",
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
    install_replay_handler(app)
    for router in (
        meta_router,
        *identity_routers,
        flavor_router,
        image_router,
        compute_router,
        host_router,
        attachment_router,
        storage_pool_router,
        volume_type_router,
        volume_router,
        snapshot_router,
        network_router,
        port_router,
        floating_ip_router,
        security_group_router,
        security_group_rule_router,
        *protection_routers,
        operation_router,
        event_router,
        audit_router,
    ):
        app.include_router(router)
    app.add_middleware(RequestMiddleware, metrics=metrics, audit=AuditRecorder())
    return app
