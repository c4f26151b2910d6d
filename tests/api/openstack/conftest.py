"""The API over the OpenStack driver, its cloud a local test cloud of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.openstack_cloud.drivers import CLOUD_NAME, cloud_for, write_clouds_yaml
from tests.openstack_cloud.state import EXTERNAL_NETWORK_NAME, Cloud

from cloudplane.settings import Settings


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_for(tmp_path / "cloud")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, cloud: Cloud) -> Settings:
    return settings.model_copy(
        update={
            "driver": "openstack",
            "openstack_cloud": CLOUD_NAME,
            "openstack_clouds_yaml": write_clouds_yaml(tmp_path / "cloud", cloud),
            "openstack_poll_interval_s": 0.0,
            "openstack_retry_backoff_s": 0.01,
            "openstack_wait_timeout_s": 10.0,
            "openstack_external_network": EXTERNAL_NETWORK_NAME,
        }
    )
