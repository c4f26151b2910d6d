"""``cloudplane server …`` against the fake API: names, waiting, actions and deletes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, Json

from cloudplane.cli.client.api import API


def seed_catalogue(fake: FakeCloudplane) -> tuple[Json, Json]:
    flavor = fake.add("flavors", name="m1.small", vcpus=1, ram_mb=512, disk_gb=5)
    image = fake.add("images", name="cirros", status="active", disk_format="qcow2")
    return flavor, image


def test_create_with_wait_resolves_names_and_shows_the_active_server(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    flavor, image = seed_catalogue(fake)
    user_data = tmp_path / "cloud-init.yaml"
    user_data.write_text("#cloud-config\npackages: [nginx]\n")

    result = run(
        "server", "create", "web-1", "--flavor", "m1.small", "--image", "cirros",
        "--description", "front", "-m", "role=web", "-m", "tier=1",
        "--user-data-file", str(user_data), "--wait", "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["name"], shown["status"], shown["task_state"]) == ("web-1", "ACTIVE", None)
    body = next(body for _, path, body in fake.bodies if path == f"{API}/servers")
    assert body == {
        "name": "web-1",
        "description": "front",
        "metadata": {"role": "web", "tier": "1"},
        "user_data": "#cloud-config\npackages: [nginx]\n",
        "flavor_id": flavor["id"],
        "image_id": image["id"],
    }
    operation_id = next(iter(fake.store["operations"]))
    assert len(fake.requests_to("GET", f"{API}/operations/{operation_id}")) == 2


def test_create_without_wait_prints_the_building_server_and_its_operation(
    run: Run, fake: FakeCloudplane
) -> None:
    seed_catalogue(fake)

    result = run("server", "create", "web-1", "--flavor", "m1.small", "--image", "cirros")

    assert result.exit_code == 0, result.output
    assert "BUILD" in result.stdout
    operation_id = next(iter(fake.store["operations"]))
    assert f"Operation {operation_id} accepted" in result.stderr
    assert fake.requests_to("GET", f"{API}/operations/{operation_id}") == []


def test_a_failed_operation_makes_wait_exit_1_with_the_operation_error(
    run: Run, fake: FakeCloudplane
) -> None:
    seed_catalogue(fake)
    fake.failing_actions = {"create"}

    result = run("server", "create", "web-1", "--flavor", "m1.small", "--image", "cirros", "--wait")

    assert result.exit_code == 1
    operation = next(iter(fake.store["operations"].values()))
    assert result.stderr.startswith(
        f"Error (operation_failed): operation {operation['id']} (create of "
    )
    assert "the hypervisor said no (driver_error)" in result.stderr
    assert f"[request {operation['request_id']}]" in result.stderr


def test_wait_gives_up_after_the_timeout(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")
    fake.polls_to_finish = 10**6

    result = run("server", "stop", "web-1", "--wait", "--timeout", "1")

    assert result.exit_code == 1
    assert "Error (timeout): operation" in result.stderr
    assert "cloudplane operation show" in result.stderr


def test_an_unknown_flavor_name_stops_the_create_before_anything_is_sent(
    run: Run, fake: FakeCloudplane
) -> None:
    seed_catalogue(fake)

    result = run("server", "create", "web-1", "--flavor", "huge", "--image", "cirros")

    assert result.exit_code == 1
    assert "Error (not_found): no flavor is named 'huge'" in result.stderr
    assert fake.requests_to("POST", f"{API}/servers") == []


def test_an_ambiguous_server_name_is_an_error(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("twin", project_id="p1")
    fake.add_server("twin", project_id="p2")

    result = run("server", "show", "twin")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (ambiguous): 2 servers are named 'twin'")


def test_stop_by_name_with_wait_shows_the_server_shut_off(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")

    result = run("server", "stop", "web-1", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "SHUTOFF"
    assert fake.requests_to("POST", f"{API}/servers/{server['id']}/stop") == [{}]


def test_each_power_action_posts_to_its_endpoint(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")

    for action, expected in [
        ("pause", "PAUSED"), ("resume", "ACTIVE"), ("stop", "SHUTOFF"), ("start", "ACTIVE"),
    ]:  # fmt: skip
        result = run("server", action, server["id"], "--wait", "-f", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["status"] == expected


def test_reboot_is_soft_unless_hard_is_asked_for(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")

    soft = run("server", "reboot", "web-1", "--wait")
    hard = run("server", "reboot", "web-1", "--hard", "--wait")

    assert soft.exit_code == hard.exit_code == 0
    reboots = [body for _, path, body in fake.bodies if path.endswith("/reboot")]
    assert reboots == [{"type": "soft"}, {"type": "hard"}]


def test_rename_patches_the_name(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")

    result = run("server", "rename", "web-1", "web-2", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "web-2"
    assert fake.store["servers"][server["id"]]["name"] == "web-2"


def test_delete_with_wait_returns_once_the_server_is_gone(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")

    result = run("server", "delete", "web-1", "--wait")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted server web-1.\n"
    assert server["id"] not in fake.store["servers"]


def test_delete_without_wait_reports_the_accepted_operation(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")

    result = run("server", "delete", "web-1")

    operation_id = next(iter(fake.store["operations"]))
    assert result.stdout == f"Deletion of server web-1 accepted (operation {operation_id}).\n"


def test_list_passes_its_filters_to_the_api(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")
    fake.add_server("db-1", status="SHUTOFF")

    result = run("server", "list", "--status", "shutoff", "--name-prefix", "db", "-f", "json")

    assert [item["name"] for item in json.loads(result.stdout)["items"]] == ["db-1"]
    query = fake.requests_to("GET", f"{API}/servers")[-1]
    assert (query["status"], query["name_prefix"]) == ("SHUTOFF", "db")
