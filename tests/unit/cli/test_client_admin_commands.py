"""Projects, quotas, members, users, API keys, operations and audit from the command line."""

from __future__ import annotations

import json

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API


def test_project_create_list_show_and_delete(run: Run, fake: FakeCloudplane) -> None:
    created = run("project", "create", "research", "--description", "lab", "-f", "json")
    listed = run("project", "list")
    shown = run("project", "show", "research", "-f", "json")
    deleted = run("project", "delete", "research")

    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert (project["name"], project["description"]) == ("research", "lab")
    assert "research" in listed.stdout
    assert json.loads(shown.stdout) == project
    assert deleted.stdout == "Deleted project research.\n"
    assert fake.store["projects"] == {}


def test_quota_show_prints_limits_with_usage(run: Run, fake: FakeCloudplane) -> None:
    project = fake.add("projects", name="research")
    fake.quotas[project["id"]] = {"servers": 10, "ram_mb": -1, "in_use": {"servers": 3}}

    table = run("quota", "show", "research")
    as_json = run("quota", "show", "research", "-f", "json")

    assert table.exit_code == 0, table.output
    rows = {line.split()[0]: line.split()[1:] for line in table.stdout.splitlines()[2:]}
    assert rows == {"servers": ["10", "3"], "ram_mb": ["unlimited"]}
    assert json.loads(as_json.stdout) == fake.quotas[project["id"]]


def test_quota_set_changes_the_given_limits_and_keeps_the_others(
    run: Run, fake: FakeCloudplane
) -> None:
    project = fake.add("projects", name="research")
    fake.quotas[project["id"]] = {"servers": 10, "vcpus": 20, "in_use": {}}

    result = run("quota", "set", "research", "servers=25", "ram_mb=-1")

    assert result.exit_code == 0, result.output
    put = [body for method, _, body in fake.bodies if method == "PUT"]
    assert put == [{"servers": 25, "vcpus": 20, "ram_mb": -1}]


def test_quota_set_refuses_a_value_that_is_not_an_integer(run: Run, fake: FakeCloudplane) -> None:
    fake.add("projects", name="research")

    result = run("quota", "set", "research", "servers=many")

    assert result.exit_code == 2
    assert fake.bodies == []


def test_member_add_and_remove_resolve_the_project_and_the_user(
    run: Run, fake: FakeCloudplane
) -> None:
    project = fake.add("projects", name="research")
    bob = fake.add("users", username="bob")

    added = run("member", "add", "research", "bob", "--role", "reader")
    assert fake.members == {(project["id"], bob["id"]): "reader"}
    removed = run("member", "remove", "research", "bob")

    assert added.stdout == "bob is now reader in project research.\n"
    assert removed.exit_code == 0, removed.output
    assert fake.members == {}


def test_member_add_only_takes_the_known_roles(run: Run, fake: FakeCloudplane) -> None:
    result = run("member", "add", "research", "bob", "--role", "owner")

    assert result.exit_code == 2
    assert fake.requests == []


def test_user_create_prompts_for_a_hidden_password_and_never_prints_it(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run("user", "create", "bob", "--email", "bob@example.org", input="s3cret\ns3cret\n")

    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    body = next(body for method, path, body in fake.bodies if path == f"{API}/users")
    assert body == {"username": "bob", "password": "s3cret", "email": "bob@example.org"}


def test_user_list_and_delete(run: Run, fake: FakeCloudplane) -> None:
    bob = fake.add("users", username="bob", email="bob@example.org", is_admin=False)

    listed = run("user", "list")
    deleted = run("user", "delete", "bob")

    assert listed.stdout.splitlines()[0].split() == ["ID", "Username", "Email", "Admin", "Created"]
    assert bob["id"] in listed.stdout
    assert deleted.exit_code == 0, deleted.output
    assert fake.store["users"] == {}


def test_api_key_create_shows_the_secret_once_with_a_warning(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run("api-key", "create", "ci")

    assert result.exit_code == 0, result.output
    key = next(iter(fake.store["api-keys"].values()))
    assert key["secret"] in result.stdout
    assert "will not be shown again" in result.stderr
    listed = run("api-key", "list")
    assert key["id"] in listed.stdout
    assert key["secret"] not in listed.stdout


def test_api_key_delete_by_id(run: Run, fake: FakeCloudplane) -> None:
    key = fake.add("api-keys", name="ci")

    result = run("api-key", "delete", key["id"])

    assert result.exit_code == 0, result.output
    assert fake.store["api-keys"] == {}


def test_operation_list_filters_and_show_prints_events(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")
    run("server", "stop", "web-1", "--wait")
    operation = next(iter(fake.store["operations"].values()))

    listed = run("operation", "list", "--resource-id", server["id"], "--status", "succeeded")
    shown = run("operation", "show", operation["id"])
    as_json = run("operation", "show", operation["id"], "-f", "json")

    assert operation["id"] in listed.stdout
    query = fake.requests_to("GET", f"{API}/operations")[-1]
    assert (query["resource_id"], query["status"]) == (server["id"], "succeeded")
    assert "Events" in shown.stdout
    assert "stop finished" in shown.stdout
    assert json.loads(as_json.stdout)["events"] == operation["events"]


def test_audit_list_asks_for_the_limit_and_shows_its_columns(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add(
        "audit-events", at="2026-11-22T02:36:18Z", method="POST", path="/api/v1/servers",
        status_code=202, outcome="success", user_id="u", request_id="req-1",
    )  # fmt: skip

    result = run("audit", "list", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "At", "Method", "Path", "Status", "Outcome", "User", "Request",
    ]  # fmt: skip
    assert "req-1" in result.stdout
    assert fake.requests_to("GET", f"{API}/audit-events")[-1]["limit"] == "5"
