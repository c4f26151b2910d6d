"""``cloudplane volume …`` against the fake API: names, bodies, waiting, attach and detach."""

from __future__ import annotations

import json

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API


def sent_to(fake: FakeCloudplane, method: str, path: str) -> list[object]:
    return [body for m, p, body in fake.bodies if m == method and p == path]


def test_create_with_wait_resolves_the_image_and_shows_the_available_volume(
    run: Run, fake: FakeCloudplane
) -> None:
    image = fake.add("images", name="cirros", status="active")

    result = run(
        "volume", "create", "root-1", "--size", "10", "--type", "fast", "--image", "cirros",
        "--description", "boot disk", "--wait", "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["name"], shown["status"], shown["bootable"]) == ("root-1", "available", True)
    assert sent_to(fake, "POST", f"{API}/volumes") == [
        {
            "name": "root-1",
            "size_gb": 10,
            "description": "boot disk",
            "volume_type": "fast",
            "image_id": image["id"],
        }
    ]
    operation = next(iter(fake.store["operations"].values()))
    assert (operation["resource_type"], operation["status"]) == ("volume", "succeeded")


def test_create_from_a_snapshot_by_name_sends_its_id(run: Run, fake: FakeCloudplane) -> None:
    volume = fake.add_volume("data-1", size_gb=4)
    snapshot = fake.add("snapshots", name="snap-1", volume_id=volume["id"], status="available")

    result = run("volume", "create", "data-2", "--size", "4", "--snapshot", "snap-1")

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/volumes") == [
        {"name": "data-2", "size_gb": 4, "snapshot_id": snapshot["id"]}
    ]


def test_create_without_wait_prints_the_creating_volume_and_its_operation(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run("volume", "create", "data-1", "--size", "1")

    assert result.exit_code == 0, result.output
    assert "creating" in result.stdout
    operation_id = next(iter(fake.store["operations"]))
    assert f"Operation {operation_id} accepted" in result.stderr
    assert fake.requests_to("GET", f"{API}/operations/{operation_id}") == []


def test_an_image_and_a_snapshot_together_are_a_usage_error_and_nothing_is_sent(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run(
        "volume", "create", "v", "--size", "1", "--image", "cirros", "--snapshot", "snap-1"
    )  # fmt: skip

    assert result.exit_code == 2
    assert "--image or --snapshot, not both" in result.output
    assert fake.requests == []


def test_a_failed_create_makes_wait_exit_1_with_the_operation_error(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.failing_actions = {"create"}

    result = run("volume", "create", "data-1", "--size", "1", "--wait")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (operation_failed): operation ")
    assert "the hypervisor said no (driver_error)" in result.stderr


def test_list_passes_its_filters_and_shows_where_a_volume_is_attached(
    run: Run, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1")
    fake.add_volume("data-1", status="in-use", attachments=[
        {"server_id": server["id"], "device": "vdb"}
    ])  # fmt: skip
    fake.add_volume("other", status="available")

    result = run("volume", "list", "--status", "IN-USE", "--name-prefix", "data")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "Name", "Status", "Size"]
    assert len(lines) == 2
    assert f"{server['id']} (vdb)" in lines[1]
    query = fake.requests_to("GET", f"{API}/volumes")[-1]
    assert (query["status"], query["name_prefix"]) == ("in-use", "data")


def test_list_of_all_projects_asks_for_them_and_adds_a_project_column(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_volume("data-1", project_id="p-other")

    result = run("volume", "list", "--all-projects")

    assert result.stdout.splitlines()[0].split()[:3] == ["ID", "Name", "Project"]
    assert "p-other" in result.stdout
    assert fake.requests_to("GET", f"{API}/volumes")[-1]["all_projects"] == "true"


def test_show_accepts_a_name_and_prints_the_api_json(run: Run, fake: FakeCloudplane) -> None:
    volume = fake.add_volume("data-1")

    result = run("volume", "show", "data-1", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == volume


def test_rename_patches_the_name(run: Run, fake: FakeCloudplane) -> None:
    volume = fake.add_volume("data-1")

    result = run("volume", "rename", "data-1", "data-2", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "data-2"
    assert sent_to(fake, "PATCH", f"{API}/volumes/{volume['id']}") == [{"name": "data-2"}]


def test_extend_with_wait_posts_the_new_size_and_shows_the_grown_volume(
    run: Run, fake: FakeCloudplane
) -> None:
    volume = fake.add_volume("data-1", status="in-use", size_gb=2)

    result = run("volume", "extend", "data-1", "--size", "4", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["size_gb"], shown["status"]) == (4, "in-use")
    assert sent_to(fake, "POST", f"{API}/volumes/{volume['id']}/extend") == [{"size_gb": 4}]


def test_delete_with_wait_returns_once_the_volume_is_gone(run: Run, fake: FakeCloudplane) -> None:
    volume = fake.add_volume("data-1")

    result = run("volume", "delete", "data-1", "--wait")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted volume data-1.\n"
    assert volume["id"] not in fake.store["volumes"]


def test_deleting_an_attached_volume_reports_the_conflict_and_its_status(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_volume("data-1", status="in-use", attachments=[{"server_id": "s", "device": "vdb"}])

    result = run("volume", "delete", "data-1")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (conflict): volume ")
    assert "  status: in-use" in result.stderr


def test_attach_resolves_both_names_sends_the_device_and_waits_until_in_use(
    run: Run, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1")
    volume = fake.add_volume("data-1")

    result = run("volume", "attach", "web-1", "data-1", "--device", "vdc", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["status"] == "in-use"
    assert shown["attachments"] == [{"server_id": server["id"], "device": "vdc"}]
    assert sent_to(fake, "POST", f"{API}/servers/{server['id']}/volumes") == [
        {"volume_id": volume["id"], "device": "vdc"}
    ]


def test_attach_without_wait_prints_the_api_answer_as_json(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1")
    fake.add_volume("data-1")

    result = run("volume", "attach", "web-1", "data-1", "-f", "json")

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    operation_id = next(iter(fake.store["operations"]))
    assert (answer["server_id"], answer["device"]) == (server["id"], "vdb")
    assert answer["operation_id"] == operation_id
    assert answer["volume"]["status"] == "attaching"
    assert sent_to(fake, "POST", f"{API}/servers/{server['id']}/volumes")[0] == {
        "volume_id": answer["volume"]["id"]
    }


def test_attach_without_wait_shows_the_attaching_volume_in_a_table(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_server("web-1")
    fake.add_volume("data-1")

    result = run("volume", "attach", "web-1", "data-1")

    assert result.exit_code == 0, result.output
    rows = dict(line.split(maxsplit=1) for line in result.stdout.splitlines()[1:] if " " in line)
    assert (rows["name"], rows["status"]) == ("data-1", "attaching")
    assert "vdb" in rows["attachments"]
    operation_id = next(iter(fake.store["operations"]))
    assert f"Operation {operation_id} accepted" in result.stderr


def test_a_failed_attach_makes_wait_exit_1(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")
    volume = fake.add_volume("data-1")
    fake.failing_actions = {"attach"}

    result = run("volume", "attach", "web-1", "data-1", "--wait")

    assert result.exit_code == 1
    assert f"(attach of {volume['id']}) failed" in result.stderr
    assert fake.store["volumes"][volume["id"]]["status"] == "available"


def test_detach_sends_a_delete_for_the_volume_and_waits_until_available(
    run: Run, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1")
    volume = fake.add_volume(
        "data-1", status="in-use", attachments=[{"server_id": server["id"], "device": "vdb"}]
    )
    server["volumes"].append({"volume_id": volume["id"], "device": "vdb", "boot": False})

    result = run("volume", "detach", "web-1", "data-1", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["status"], shown["attachments"]) == ("available", [])
    path = f"{API}/servers/{server['id']}/volumes/{volume['id']}"
    assert fake.requests_to("DELETE", path) == [{}]
    assert server["volumes"] == []


def test_an_unknown_volume_name_stops_an_attach_before_anything_is_sent(
    run: Run, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1")

    result = run("volume", "attach", "web-1", "nope")

    assert result.exit_code == 1
    assert "Error (not_found): no volume is named 'nope'" in result.stderr
    assert fake.requests_to("POST", f"{API}/servers/{server['id']}/volumes") == []
