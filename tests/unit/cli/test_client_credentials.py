"""Where the login lives: the credentials file, environment overrides and token refresh."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, rfc3339

from cloudplane.cli.client.api import API
from cloudplane.cli.client.credentials import Credentials, refresh, save_credentials


def stored(config_dir: Path) -> dict[str, str | None]:
    data: dict[str, str | None] = json.loads((config_dir / "credentials.json").read_text())
    return data


def test_login_stores_the_token_pair_in_a_file_only_its_owner_can_read(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str, config_dir: Path
) -> None:
    result = run_logged_out(
        "login", "--url", f"{api_url}/", "--username", "alice", "--password", "wonderland"
    )

    assert result.exit_code == 0, result.output
    path = config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = stored(config_dir)
    assert saved["url"] == api_url
    assert saved["access_token"] in fake.access_tokens
    assert saved["refresh_token"] in fake.refresh_tokens
    assert saved["project_id"] == fake.project_id
    assert saved["expires_at"]
    assert f"Logged in to {api_url} as alice" in result.stdout


def test_login_asks_for_the_password_without_echoing_it(
    run_logged_out: Run, api_url: str, config_dir: Path
) -> None:
    result = run_logged_out("login", "--url", api_url, "--username", "alice", input="wonderland\n")

    assert result.exit_code == 0, result.output
    assert "wonderland" not in result.output
    assert (config_dir / "credentials.json").exists()


def test_login_sends_the_chosen_project(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str
) -> None:
    run_logged_out(
        "login", "--url", api_url, "--username", "alice", "--password", "wonderland",
        "--project", "p-42",
    )  # fmt: skip

    assert fake.bodies[-1][2]["project_id"] == "p-42"


def test_bad_credentials_exit_1_with_the_api_error_and_store_nothing(
    run_logged_out: Run, api_url: str, config_dir: Path
) -> None:
    result = run_logged_out("login", "--url", api_url, "--username", "alice", "--password", "wrong")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (unauthorized): wrong username or password [request ")
    assert not (config_dir / "credentials.json").exists()


def test_an_expired_access_token_is_refreshed_and_the_new_pair_saved(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str, config_dir: Path
) -> None:
    fake.refresh_tokens.add("refresh-old")
    past = datetime.now(UTC) - timedelta(minutes=5)
    fake.access_tokens["access-old"] = past
    save_credentials(Credentials(api_url, "access-old", "refresh-old", rfc3339(past), "p"))

    result = run_logged_out("whoami", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["project_id"] == fake.project_id
    assert len(fake.requests_to("POST", f"{API}/auth/refresh")) == 1
    saved = stored(config_dir)
    assert saved["access_token"] != "access-old"
    assert saved["access_token"] in fake.access_tokens
    assert saved["refresh_token"] in fake.refresh_tokens
    assert saved["refresh_token"] != "refresh-old"
    assert stat.S_IMODE((config_dir / "credentials.json").stat().st_mode) == 0o600


def test_a_valid_access_token_is_used_without_refreshing(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str
) -> None:
    token = fake.issue_token()
    expires = rfc3339(fake.access_tokens[token])
    save_credentials(Credentials(api_url, token, "refresh-unused", expires, fake.project_id))

    assert run_logged_out("whoami").exit_code == 0
    assert fake.requests_to("POST", f"{API}/auth/refresh") == []


def test_a_refused_refresh_asks_to_log_in_again(
    run_logged_out: Run, api_url: str, config_dir: Path
) -> None:
    past = rfc3339(datetime.now(UTC) - timedelta(minutes=5))
    save_credentials(Credentials(api_url, "access-old", "refresh-revoked", past, "p"))

    result = run_logged_out("whoami")

    assert result.exit_code == 1
    assert "Error (unauthorized)" in result.stderr
    assert "cloudplane login" in result.stderr


def test_cloudplane_token_in_the_environment_needs_no_file(
    run_logged_out: Run,
    fake: FakeCloudplane,
    api_url: str,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDPLANE_URL", api_url)
    monkeypatch.setenv("CLOUDPLANE_TOKEN", fake.issue_token())

    result = run_logged_out("whoami")

    assert result.exit_code == 0, result.output
    assert fake.project_id in result.stdout
    assert not config_dir.exists()


def test_a_stored_token_is_never_sent_to_another_cloudplane_url(
    run_logged_out: Run, fake: FakeCloudplane, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_credentials(Credentials(api_url, fake.issue_token(), None, None, None))
    monkeypatch.setenv("CLOUDPLANE_URL", "http://elsewhere.invalid")

    result = run_logged_out("whoami")

    assert result.exit_code == 1
    assert "Error (not_logged_in)" in result.stderr
    assert fake.requests == []


def test_without_any_login_a_command_says_how_to_log_in(run_logged_out: Run) -> None:
    result = run_logged_out("server", "list")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (not_logged_in): not logged in: run `cloudplane login`")


def test_logout_removes_the_file(run_logged_out: Run, api_url: str, config_dir: Path) -> None:
    save_credentials(Credentials(api_url, "t", None, None, None))

    first = run_logged_out("logout")
    second = run_logged_out("logout")

    assert first.exit_code == second.exit_code == 0
    assert not (config_dir / "credentials.json").exists()
    assert "Logged out" in first.stdout
    assert "Not logged in" in second.stdout


def test_a_damaged_credentials_file_is_reported_not_crashed_on(
    run_logged_out: Run, config_dir: Path
) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "credentials.json").write_text("{not json")

    result = run_logged_out("whoami")

    assert result.exit_code == 1
    assert "Error (bad_credentials_file)" in result.stderr


def test_a_refresh_token_spent_by_a_concurrent_command_yields_the_pair_it_saved(
    config_dir: Path, fake: FakeCloudplane, api_url: str
) -> None:
    past = rfc3339(datetime.now(UTC) - timedelta(minutes=5))
    stale = Credentials(api_url, "access-old", "refresh-spent", past, "p")
    fresh_token = fake.issue_token()
    fresh = Credentials(
        api_url, fresh_token, "refresh-new", rfc3339(fake.access_tokens[fresh_token]), "p"
    )
    save_credentials(fresh)  # what the other command stored after spending "refresh-spent"

    assert refresh(stale) == fresh
