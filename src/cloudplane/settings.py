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
    # A round walks every live server, which at 100,000 servers is seconds of CPU; libvirt's
    # lifecycle events start a round at once when a domain changes behind cloudplane's back.
    reconcile_interval_s: float = 60.0
    group_peers_interval_s: float = Field(
        default=0.2,
        ge=0,
        description="The shortest time between two pushes of one security group's peers to "
        "the backend: a burst of boots in a group is pushed once per interval.",
    )
    sweep_interval_s: float = 5.0
    leak_sweep_interval_s: float = 60.0
    pending_resend_after_s: float = 15.0
    operation_lease_s: float = Field(
        default=30.0, gt=0, description="A running operation's claim; its worker renews it."
    )
    operation_deadline_s: float = 600.0
    protection_deadline_s: float = Field(
        default=21_600.0,
        gt=0,
        description="Deadline of checkpoint, restore and verification operations, which copy "
        "or read whole volumes (the other operations have operation_deadline_s).",
    )
    operation_max_attempts: int = 3

    simulator_latency_ms: dict[str, int] = Field(
        default_factory=dict,
        description='Per-operation latency, e.g. {"create_server": 200, "*": 5}.',
    )
    simulator_fail: list[str] = Field(
        default_factory=list, description='Operations that fail, e.g. ["create_server"].'
    )

    openstack_cloud: str | None = Field(
        default=None,
        description="A cloud of clouds.yaml; empty means the OS_* environment variables.",
    )
    openstack_clouds_yaml: Path | None = Field(
        default=None, description="An explicit clouds.yaml; empty searches the usual places."
    )
    openstack_call_timeout_s: float = Field(default=30.0, gt=0)
    openstack_retries: int = Field(default=3, ge=0)
    openstack_retry_backoff_s: float = Field(default=0.5, ge=0)
    openstack_wait_timeout_s: float = Field(default=600.0, gt=0)
    openstack_poll_interval_s: float = Field(default=2.0, ge=0)
    openstack_default_image: str | None = Field(
        default=None, description="Glance image for servers with neither image nor boot volume."
    )
    openstack_external_network: str | None = Field(
        default=None, description="Neutron network that floating IPs come from."
    )
    openstack_full_sync_interval_s: float = Field(default=600.0, gt=0)
    openstack_catalogue_sync_interval_s: float = Field(
        default=300.0, gt=0, description="How often flavors and images are imported."
    )
    openstack_catalogue_project: str = Field(
        default="cloud-catalogue",
        description="Name of the project that owns imported images (made if missing).",
    )

    libvirt_hosts: str = Field(
        default="qemu:///system",
        description="Comma-separated libvirt URIs of the hosts servers run on (driver libvirt).",
    )
    libvirt_virt_type: Literal["auto", "kvm", "qemu"] = Field(
        default="auto", description="auto: KVM when the host offers it, else QEMU emulation."
    )
    libvirt_name_prefix: str = Field(
        default="cloudplane-", description="Start of the name of everything made on a host."
    )
    libvirt_shutdown_timeout_s: float = Field(
        default=60.0, gt=0, description="How long a graceful stop may take before forcing off."
    )
    host_check_interval_s: float = Field(
        default=10.0, gt=0, description="How often every hypervisor host is asked if it answers."
    )
    libvirt_nat_networks: bool = Field(
        default=False, description="Networks forward to the outside through NAT (else isolated)."
    )

    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second per user or API key; 0 = no limit.",
    )
    rate_limit_burst: int = Field(default=200, ge=0, description="Requests allowed at once.")
    login_attempts_per_min: float = Field(
        default=10.0,
        ge=0,
        description="Login attempts per minute for one username, and for one client address "
        "(each has its own bucket); 0 = no limit.",
    )
    login_attempts_burst: int = Field(
        default=10, ge=0, description="Login attempts allowed at once per username or address."
    )
    redis_url: str = Field(
        default="",
        description="Redis for state shared by several API processes (the rate-limit buckets); "
        "empty = each process keeps its own.",
    )
    redis_key_prefix: str = Field(
        default="cloudplane:", description="Prefix of every key cloudplane writes in Redis."
    )

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

    backup_dir: Path | None = Field(
        default=None,
        description="Backup store of the backup provider (a directory or mounted NFS path); "
        "empty means <data dir>/backups.",
    )
    protection_min_trigger_interval_s: float = Field(
        default=300.0, ge=0, description="Shortest time allowed between two trigger firings."
    )
    protection_tick_s: float = Field(
        default=10.0, gt=0, description="How often schedulers look for due protection firings."
    )

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

    @property
    def libvirt_dir(self) -> Path:
        """Server disks, console logs and volume records of the libvirt driver (absolute:
        libvirt resolves paths on its own side)."""
        return (self.data_dir / "libvirt").resolve()

    @property
    def libvirt_uris(self) -> list[str]:
        return [uri.strip() for uri in self.libvirt_hosts.split(",") if uri.strip()]
