"""Private PostgreSQL and RabbitMQ for the fault tests, and a cluster of processes per test.

The two services are started once for the session (a few seconds) and removed at its end; each
test gets its own database and virtual host on them, so tests never see each other's rows or
messages, and restarting them disturbs nobody else.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cluster import Cluster, ClusterFactory, seed_cluster
from tests.support.private_services import PrivatePostgres, PrivateRabbitMQ


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp dir: the postgres user cannot enter root's private directories.
    postgres = PrivatePostgres(Path(tempfile.mkdtemp(prefix="cpfaults-pg-")))
    try:
        postgres.create()
        yield postgres
    finally:
        postgres.destroy()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    rabbitmq = PrivateRabbitMQ(Path(tempfile.mkdtemp(prefix="cpfaults-mq-")))
    try:
        rabbitmq.create()
        yield rabbitmq
    finally:
        rabbitmq.destroy()


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, private_postgres: PrivatePostgres) -> Cluster:
    return seed_cluster(tmp_path_factory.mktemp("seed"), private_postgres)


@pytest.fixture
def make_cluster(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    private_rabbitmq: PrivateRabbitMQ,
    seed: Cluster,
) -> Iterator[ClusterFactory]:
    factory = ClusterFactory(tmp_path, private_postgres, private_rabbitmq, seed)
    yield factory
    for cluster in factory.built:
        cluster.stop_all()
