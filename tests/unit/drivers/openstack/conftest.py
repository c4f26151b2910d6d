"""An opened OpenStack driver over a test cloud of its own, and that cloud's knobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.openstack_cloud.drivers import cloud_for, local_cloud_options
from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.openstack.driver import OpenStackDriver


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_for(tmp_path)


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[OpenStackDriver]:
    opened = OpenStackDriver(local_cloud_options(tmp_path))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
