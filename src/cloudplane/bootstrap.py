"""Builds the runtime from settings: database, driver, authenticator, handlers and task queue."""

from __future__ import annotations

from cloudplane.compute.repository import server_usage
from cloudplane.compute.tasks import register_compute_handlers
from cloudplane.drivers.factory import build_driver
from cloudplane.identity.authenticator import Authenticator
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.identity.tokens import TokenCodec, load_or_create_secret
from cloudplane.kit.coalesced_refresh import CoalescedRefresh
from cloudplane.kit.db import create_engine, session_factory
from cloudplane.kit.rate_limit import ProcessRateLimiter, RateLimiter
from cloudplane.kit.shared_rate_limit import RedisRateLimiter
from cloudplane.kit.task_queue import TaskQueue, build_broker
from cloudplane.network.repository import network_usage
from cloudplane.network.tasks import register_network_handlers
from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.operations.runner import execute_operation
from cloudplane.protection.repository import protection_usage
from cloudplane.protection.tasks import register_protection_handlers
from cloudplane.runtime import Runtime
from cloudplane.settings import Settings
from cloudplane.storage.repository import storage_usage
from cloudplane.storage.tasks import register_storage_handlers


async def build_runtime(settings: Settings) -> Runtime:
    """Everything long-lived, connected and ready; ``close_runtime`` undoes it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    secret = (
        settings.jwt_secret.get_secret_value()
        if settings.jwt_secret
        else load_or_create_secret(settings.data_dir / "jwt.secret")
    )
    tokens = TokenCodec(
        secret,
        access_ttl_s=settings.access_token_ttl_s,
        refresh_ttl_s=settings.refresh_token_ttl_s,
    )
    driver = build_driver(settings)
    await driver.open()
    handlers = HandlerRegistry()
    register_compute_handlers(handlers)
    register_storage_handlers(handlers)
    register_network_handlers(handlers)
    register_protection_handlers(handlers)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        driver=driver,
        authenticator=Authenticator(tokens, sessions, cache_ttl_s=settings.auth_cache_ttl_s),
        handlers=handlers,
        usage_counters=[server_usage, storage_usage, network_usage, protection_usage],
        passwords=PasswordHashing(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        rate_limiter=build_rate_limiter(
            settings, rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst
        ),
        login_limiter=build_rate_limiter(
            settings,
            rate_per_s=settings.login_attempts_per_min / 60,
            burst=settings.login_attempts_burst,
        ),
        peer_refreshes=CoalescedRefresh(spacing_s=settings.group_peers_interval_s),
    )

    async def _execute(operation_id: str) -> None:
        await execute_operation(runtime, operation_id)

    runtime.queue = TaskQueue(build_broker(settings), _execute, settings)
    return runtime


def build_rate_limiter(settings: Settings, *, rate_per_s: float, burst: int) -> RateLimiter:
    """Buckets of ``burst`` tokens refilled at ``rate_per_s``: shared through Redis when one is
    configured, else this process's own."""
    if settings.redis_url:
        return RedisRateLimiter(
            settings.redis_url,
            rate_per_s=rate_per_s,
            burst=burst,
            key_prefix=settings.redis_key_prefix,
        )
    return ProcessRateLimiter(rate_per_s=rate_per_s, burst=burst)


async def close_runtime(runtime: Runtime) -> None:
    if runtime.queue is not None:
        await runtime.queue.drain()
        await runtime.queue.stop()
    await runtime.peer_refreshes.wait_idle()
    await runtime.rate_limiter.close()
    await runtime.login_limiter.close()
    await runtime.driver.close()
    await runtime.engine.dispose()
