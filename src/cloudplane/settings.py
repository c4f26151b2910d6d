"""Configuration: one settings class read from ``CLOUDPLANE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DriverName = Literal["simulator", "libvirt", "openstack"]


class Settings(BaseSettings):
    """Everything the service can be told from outside.

    Reading settings has no side effects: nothing is created on disk or connected to here.
    """

    model_config = SettingsConfigDict(env_prefix="CLOUDPLANE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; empty means SQLite in the data dir.",
    )
    broker_url: str | None = Field(
        default=None, description="amqp:// URL; empty means the in-process worker."
    )
    driver: DriverName = "simulator"
    log_level: str = "INFO"
    log_json: bool = True

    admin_password: SecretStr | None = None
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 key; empty means one generated and kept in the data dir."
    )
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 7 * 24 * 3600
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=32)
    auto_migrate: bool = Field(default=True, description="Migrate and seed when the API starts.")
    auth_cache_ttl_s: float = Field(
        default=5.0, description="How long a token's user and role lookup is reused."
    )

    run_worker: bool = Field(default=True, description="Run tasks in the API process.")
    run_scheduler: bool = Field(default=True, description="Run periodic jobs in this process.")
    reconcile_interval_s: float = 10.0
    sweep_interval_s: float = 5.0
    leak_sweep_interval_s: float = 60.0
    pending_resend_after_s: float = 15.0
    operation_lease_s: float = Field(
        default=30.0, gt=0, description="A running operation's claim; its worker renews it."
    )
    operation_deadline_s: float = 600.0
    operation_max_attempts: int = 3

    simulator_latency_ms: dict[str, int] = Field(
        default_factory=dict,
        description='Per-operation latency, e.g. {"create_server": 200, "*": 5}.',
    )
    simulator_fail: list[str] = Field(
        default_factory=list, description='Operations that fail, e.g. ["create_server"].'
    )

    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second per user or API key in each API process; 0 = no limit.",
    )
    rate_limit_burst: int = Field(default=200, ge=0, description="Requests allowed at once.")

    # The distributed form: RabbitMQ workers, leases on running operations, periodic ticks.
    broker_queue: str = Field(
        default="cloudplane.operations", description="RabbitMQ queue the workers consume."
    )
    broker_prefetch: int = Field(
        default=8, ge=1, description="Messages one worker holds (and runs) at once."
    )
    broker_retry_limit: int = Field(
        default=5, ge=0, description="Re-sends of a message whose run hit an outage."
    )
    broker_retry_backoff_s: float = Field(
        default=1.0, gt=0, description="First retry delay; doubles on each retry."
    )
    broker_delivery_limit: int = Field(
        default=5, ge=1, description="Deliveries (e.g. workers killed mid-run) before dead-letter."
    )
    broker_publish_timeout_s: float = Field(
        default=3.0, gt=0, description="How long a request waits to hand an operation over."
    )
    scheduler_tick_s: float = Field(default=1.0, gt=0, description="How often jobs are checked.")

    idempotency_ttl_s: int = 24 * 3600
    max_upload_bytes: int = 64 * 1024**3

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloudplane.db').resolve()}"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def simulator_dir(self) -> Path:
        return self.data_dir / "simulator"
