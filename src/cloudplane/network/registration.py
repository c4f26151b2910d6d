"""Plugs networking into a runtime: its operation handlers and its quota usage counter.

``bootstrap.build_runtime`` calls ``register_network_feature(runtime)`` once the handler
registry exists. It is idempotent, so calling it twice is harmless.
"""

from __future__ import annotations

from cloudplane.network.repository import network_usage
from cloudplane.network.tasks import register_network_handlers
from cloudplane.runtime import Runtime


def register_network_feature(runtime: Runtime) -> None:
    if runtime.handlers.get("network", "create") is None:
        register_network_handlers(runtime.handlers)
    if network_usage not in runtime.usage_counters:
        runtime.usage_counters.append(network_usage)
