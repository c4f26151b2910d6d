"""What the commands print: the API's JSON with -f json, chosen columns in tables, errors."""

from __future__ import annotations

import json

import httpx
from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API


def header_words(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_json_output_of_a_list_is_valid_json_equal_to_the_api_page(
    run: Run, fake: FakeCloudplane, api_url: str
) -> None:
    fake.add_server("web-1")
    fake.add_server("web-2", status="SHUTOFF")

    result = run("server", "list", "-f", "json")

    assert result.exit_code == 0, result.output
    token = fake.issue_token()
    api_page = httpx.get(
        f"{api_url}{API}/servers", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert json.loads(result.stdout) == api_page
    assert "\x1b[" not in result.stdout


def test_json_output_of_show_is_the_api_resource(run: Run, fake: FakeCloudplane) -> None:
    server = fake.add_server("web-1", metadata={"role": "web"})

    result = run("server", "show", "web-1", "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == server


def test_json_output_of_a_list_cut_by_limit_gives_the_marker_to_continue_from(
    run: Run, fake: FakeCloudplane
) -> None:
    servers = [fake.add_server(f"web-{n}") for n in range(3)]

    result = run("server", "list", "--limit", "2", "-f", "json")

    page = json.loads(result.stdout)
    assert [item["id"] for item in page["items"]] == [s["id"] for s in servers[:2]]
    assert page["next_marker"] == servers[1]["id"]


def test_the_server_table_has_the_chosen_columns_and_one_row_per_server(
    run: Run, fake: FakeCloudplane
) -> None:
    web = fake.add_server(
        "web-1", addresses=[{"ip": "10.0.0.5"}], floating_ips=[{"id": "f", "ip": "203.0.113.7"}]
    )
    fake.add_server("db-1", status="SHUTOFF")

    result = run("server", "list")

    assert result.exit_code == 0, result.output
    assert header_words(result.stdout) == [
        "ID", "Name", "Status", "Task", "Power", "Addresses", "Created",
    ]  # fmt: skip
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    web_line = next(line for line in lines if web["id"] in line)
    assert "web-1" in web_line
    assert "ACTIVE" in web_line
    assert "10.0.0.5, 203.0.113.7" in web_line


def test_the_server_table_across_projects_adds_a_project_column(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_server("web-1")

    result = run("server", "list", "--all-projects")

    assert "Project" in header_words(result.stdout)
    assert fake.requests_to("GET", f"{API}/servers")[-1]["all_projects"] == "true"


def test_the_flavor_and_image_tables_have_their_columns(run: Run, fake: FakeCloudplane) -> None:
    fake.add("flavors", name="m1.small", vcpus=1, ram_mb=512, disk_gb=5, is_public=True)
    fake.add("images", name="cirros", status="active", disk_format="qcow2", size_bytes=9)

    flavors = run("flavor", "list")
    images = run("image", "list")

    assert header_words(flavors.stdout) == ["ID", "Name", "vCPUs", "RAM", "(MB)", "Disk", "(GB)",
                                            "Public"]  # fmt: skip
    assert "m1.small" in flavors.stdout
    assert header_words(images.stdout) == ["ID", "Name", "Status", "Format", "Size", "(bytes)",
                                           "Visibility"]  # fmt: skip
    assert "cirros" in images.stdout


def test_show_prints_every_field_as_a_row(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1", metadata={"role": "web"})

    result = run("server", "show", "web-1")

    rows = {line.split(maxsplit=1)[0]: line for line in result.stdout.splitlines()[1:]}
    assert {"id", "name", "status", "task_state", "metadata", "fault"} <= set(rows)
    assert '{"role": "web"}' in rows["metadata"]


def test_an_api_error_prints_one_line_to_stderr_and_exits_1(run: Run, fake: FakeCloudplane) -> None:
    fake.add_server("web-1", status="SHUTOFF")

    result = run("server", "stop", "web-1")

    assert result.exit_code == 1
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith("Error (conflict): cannot stop a server that is SHUTOFF [request req-")
    assert rest == ["  status: SHUTOFF"]


def test_validation_errors_list_their_fields(run: Run, fake: FakeCloudplane) -> None:
    fake.add("flavors", name="small")
    fake.add("images", name="cirros")

    result = run("server", "create", "", "--flavor", "small", "--image", "cirros")

    assert result.exit_code == 1
    assert "Error (validation_error): the request is not valid" in result.stderr
    assert "  - body.name: field required" in result.stderr


def test_control_characters_from_the_api_never_reach_the_terminal(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_server("evil\x1b]0;pwned\x07name")

    table = run("server", "list")
    as_json = run("server", "list", "-f", "json")

    assert "\x1b" not in table.stdout
    assert "\x07" not in table.stdout
    assert json.loads(as_json.stdout)["items"][0]["name"] == "evil\x1b]0;pwned\x07name"


def test_a_usage_error_exits_2(run: Run) -> None:
    result = run("server", "create", "web-1", "--flavor", "f", "--image", "i", "-m", "novalue")

    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output
