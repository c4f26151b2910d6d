"""How the driver reaches a cloud: a ``clouds.yaml`` cloud name or the ``OS_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack.config
import openstack.connection


@dataclass(frozen=True, slots=True)
class OpenStackOptions:
    """What the OpenStack driver is told from outside (see ``Settings.openstack_*``)."""

    cloud: str | None = None
    """A cloud of ``clouds.yaml``; ``None`` reads the ``OS_*`` environment variables."""
    clouds_yaml: Path | None = None
    """An explicit ``clouds.yaml``; ``None`` searches the usual places."""
    call_timeout_s: float = 30.0
    """The longest one HTTP call to the cloud may take."""
    retries: int = 3
    """How many times a call failing with a 5xx or a connection error is tried again."""
    retry_backoff_s: float = 0.5
    """The first pause before a retry; every further retry waits twice as long."""
    wait_timeout_s: float = 600.0
    """The longest the driver waits for a resource to leave a transitional state."""
    poll_interval_s: float = 2.0
    """How often it looks while waiting."""
    default_image: str | None = None
    """The Glance image (name or id) a server gets when it names neither image nor boot volume."""
    external_network: str | None = None
    """The Neutron network (name or id) floating IPs come from when cloudplane names none."""
    full_sync_interval_s: float = 600.0
    """How often the server list is read in full instead of by ``changes-since``."""
    max_workers: int = 8
    """Threads for blocking SDK calls; more calls than this wait for a free thread."""


def connect(options: OpenStackOptions) -> Any:
    """A connection to the cloud ``options`` name (blocking: run it in a worker thread).

    Authentication happens lazily on the first call; a configuration error (an unknown cloud
    name, missing ``OS_*`` variables) raises here.
    """
    config = openstack.config.OpenStackConfig(
        config_files=[str(options.clouds_yaml)] if options.clouds_yaml else None,
    )
    region = config.get_one(cloud=options.cloud, api_timeout=options.call_timeout_s)
    return openstack.connection.Connection(config=region)
