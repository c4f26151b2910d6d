"""Fixtures for the client command tests: a fake API over real HTTP, a client and a runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.cli.client_runner import Run, client_runner
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, ServerThread
from tests.unit.cli.fake_cloudplane_routes import build_app

from cloudplane.cli.client.api import ApiClient

POLL_INTERVAL_S = 0.01


@pytest.fixture(scope="session")
def served_fake() -> Iterator[tuple[FakeCloudplane, str]]:
    fake = FakeCloudplane()
    server = ServerThread(build_app(fake))
    server.start()
    yield fake, server.url
    server.stop()


@pytest.fixture
def fake(served_fake: tuple[FakeCloudplane, str]) -> FakeCloudplane:
    served_fake[0].reset()
    return served_fake[0]


@pytest.fixture
def api_url(served_fake: tuple[FakeCloudplane, str]) -> str:
    return served_fake[1]


@pytest.fixture
def client(fake: FakeCloudplane, api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url, fake.issue_token(), poll_interval_s=POLL_INTERVAL_S) as api:
        yield api


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private configuration directory and no login in the environment."""
    directory = tmp_path / "config"
    monkeypatch.setenv("CLOUDPLANE_CONFIG_DIR", str(directory))
    monkeypatch.setenv("CLOUDPLANE_POLL_INTERVAL_S", str(POLL_INTERVAL_S))
    monkeypatch.delenv("CLOUDPLANE_URL", raising=False)
    monkeypatch.delenv("CLOUDPLANE_TOKEN", raising=False)
    return directory


@pytest.fixture
def run_logged_out(config_dir: Path) -> Run:
    """Run ``cloudplane …`` with no login at all."""
    return client_runner()


@pytest.fixture
def run(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> Run:
    """Run ``cloudplane …`` logged in to the fake through CLOUDPLANE_URL and CLOUDPLANE_TOKEN."""
    monkeypatch.setenv("CLOUDPLANE_URL", api_url)
    monkeypatch.setenv("CLOUDPLANE_TOKEN", fake.issue_token())
    return run_logged_out
