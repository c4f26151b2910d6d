"""The composition root's product: every long-lived object the service needs, built once."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cloudplane.drivers.contract import Driver
from cloudplane.identity.authenticator import Authenticator
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.identity.quotas import UsageCounter
from cloudplane.kit.coalesced_refresh import CoalescedRefresh
from cloudplane.kit.metrics import ApiMetrics
from cloudplane.kit.rate_limit import ProcessRateLimiter, RateLimiter
from cloudplane.kit.task_queue import TaskQueue
from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.settings import Settings


def new_worker_id() -> str:
    """Names this process in operation claims: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    driver: Driver
    authenticator: Authenticator
    passwords: PasswordHashing
    handlers: HandlerRegistry
    queue: TaskQueue | None = None
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    usage_counters: list[UsageCounter] = field(default_factory=list)
    rate_limiter: RateLimiter = field(
        default_factory=lambda: ProcessRateLimiter(rate_per_s=0, burst=0)
    )
    login_limiter: RateLimiter = field(
        default_factory=lambda: ProcessRateLimiter(rate_per_s=0, burst=0)
    )
    worker_id: str = field(default_factory=new_worker_id)
    #: Operations this process is running now (a duplicate message for one is dropped).
    running_operations: set[str] = field(default_factory=set)
    #: Pushes of security groups' peers to the backend, merged per group.
    peer_refreshes: CoalescedRefresh = field(default_factory=CoalescedRefresh)
