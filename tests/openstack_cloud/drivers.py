"""OpenStack drivers for tests: against the test cloud, or a real cloud when one is named.

``CLOUDPLANE_TEST_OS_CLOUD=<cloud in clouds.yaml>`` points the contract suite at a real
cloud (with ``CLOUDPLANE_TEST_OS_IMAGE`` and ``CLOUDPLANE_TEST_OS_EXTERNAL_NETWORK`` naming a
small image and the floating-IP network). Without it every scratch directory gets a test cloud
of its own on one shared local server, and ``clouds.yaml`` written into that directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from cloudplane.drivers.openstack.connection import OpenStackOptions
from cloudplane.drivers.openstack.driver import OpenStackDriver
from tests.openstack_cloud import keystone
from tests.openstack_cloud.server import CloudServer
from tests.openstack_cloud.state import EXTERNAL_NETWORK_NAME, SEED_IMAGE_NAME, Cloud

REAL_CLOUD_VARIABLE = "CLOUDPLANE_TEST_OS_CLOUD"
CLOUD_NAME = "testcloud"


@functools.cache
def shared_server() -> CloudServer:
    """The one local cloud server of this test process (a daemon thread, gone at exit)."""
    server = CloudServer()
    server.start()
    return server


def cloud_for(scratch_dir: Path) -> Cloud:
    """The test cloud that belongs to ``scratch_dir`` (the same one on every call)."""
    key = hashlib.sha256(str(scratch_dir.resolve()).encode()).hexdigest()[:16]
    return shared_server().new_cloud(key)


def write_clouds_yaml(scratch_dir: Path, cloud: Cloud) -> Path:
    server = shared_server()
    path = scratch_dir / "clouds.yaml"
    document = {
        "clouds": {
            CLOUD_NAME: {
                "auth": {
                    "auth_url": server.auth_url(cloud),
                    "username": keystone.USERNAME,
                    "password": keystone.PASSWORD,
                    "project_name": "cloudplane",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionOne",
                "identity_api_version": 3,
            }
        }
    }
    scratch_dir.mkdir(parents=True, exist_ok=True)
    # JSON is YAML too, and needs no YAML writer.
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def local_cloud_options(scratch_dir: Path, **overrides: object) -> OpenStackOptions:
    """Options for the test cloud of ``scratch_dir``: quick polls, quick retries."""
    clouds_yaml = write_clouds_yaml(scratch_dir, cloud_for(scratch_dir))
    values: dict[str, object] = {
        "cloud": CLOUD_NAME,
        "clouds_yaml": clouds_yaml,
        "call_timeout_s": 10.0,
        "retries": 2,
        "retry_backoff_s": 0.01,
        "wait_timeout_s": 10.0,
        "poll_interval_s": 0.0,
        "default_image": SEED_IMAGE_NAME,
        "external_network": EXTERNAL_NETWORK_NAME,
        **overrides,
    }
    return OpenStackOptions(**values)  # type: ignore[arg-type]


def openstack_driver(scratch_dir: Path) -> OpenStackDriver:
    """An unopened driver for the contract suite: a real cloud if named, else a test cloud."""
    real_cloud = os.environ.get(REAL_CLOUD_VARIABLE)
    if real_cloud:
        return OpenStackDriver(
            OpenStackOptions(
                cloud=real_cloud,
                poll_interval_s=1.0,
                default_image=os.environ.get("CLOUDPLANE_TEST_OS_IMAGE"),
                external_network=os.environ.get("CLOUDPLANE_TEST_OS_EXTERNAL_NETWORK"),
            )
        )
    return OpenStackDriver(local_cloud_options(scratch_dir))
