"""Prometheus metrics for the API, kept in a registry per app (so tests can build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(slots=True)
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    operations: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "cloudplane_http_requests_total",
            "HTTP requests answered, by method, route and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "cloudplane_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            ("method", "route"),
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.operations = Counter(
            "cloudplane_operations_total",
            "Operations finished, by action and outcome.",
            ("action", "outcome"),
            registry=self.registry,
        )
