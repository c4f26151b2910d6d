"""``cloudplane network …`` and ``port …`` against the fake API."""

from __future__ import annotations

import json

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API


def sent_to(fake: FakeCloudplane, method: str, path: str) -> list[object]:
    return [body for m, p, body in fake.bodies if m == method and p == path]


def test_network_create_sends_the_gateway_and_pools_and_leaves_admin_flags_out(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run(
        "network", "create", "backend", "--cidr", "192.168.50.0/24", "--gateway", "192.168.50.1",
        "--pool", "192.168.50.100-192.168.50.150", "--pool", "192.168.50.200-192.168.50.210",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/networks") == [
        {
            "name": "backend",
            "cidr": "192.168.50.0/24",
            "gateway_ip": "192.168.50.1",
            "allocation_pools": [
                {"start": "192.168.50.100", "end": "192.168.50.150"},
                {"start": "192.168.50.200", "end": "192.168.50.210"},
            ],
        }
    ]
    assert "BUILD" in result.stdout


def test_network_create_sends_shared_and_external_only_when_asked(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run(
        "network", "create", "public", "--cidr", "203.0.113.0/24", "--shared", "--external"
    )

    assert result.exit_code == 0, result.output
    body = sent_to(fake, "POST", f"{API}/networks")[0]
    assert body == {"name": "public", "cidr": "203.0.113.0/24", "shared": True, "external": True}


def test_network_create_with_wait_polls_the_network_until_it_is_active(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run("network", "create", "backend", "--cidr", "10.1.0.0/24", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    network = json.loads(result.stdout)
    assert network["status"] == "ACTIVE"
    reads = fake.requests_to("GET", f"{API}/networks/{network['id']}")
    assert len(reads) == fake.polls_to_finish


def test_a_malformed_pool_or_gateway_is_a_usage_error_and_nothing_is_sent(
    run: Run, fake: FakeCloudplane
) -> None:
    no_end = run("network", "create", "n", "--cidr", "10.0.0.0/24", "--pool", "10.0.0.5")
    bad_start = run("network", "create", "n", "--cidr", "10.0.0.0/24", "--pool", "x-10.0.0.9")
    bad_gateway = run("network", "create", "n", "--cidr", "10.0.0.0/24", "--gateway", "10.0.0")

    assert (no_end.exit_code, bad_start.exit_code, bad_gateway.exit_code) == (2, 2, 2)
    assert "'10.0.0.5' is not START-END" in no_end.output
    assert "'10.0.0' is not an IP address" in bad_gateway.output
    assert fake.requests == []


def test_network_list_shows_cidr_gateway_and_pools(run: Run, fake: FakeCloudplane) -> None:
    fake.add_network(
        "backend", cidr="10.1.0.0/24", gateway_ip="10.1.0.1",
        allocation_pools=[{"start": "10.1.0.10", "end": "10.1.0.20"}],
    )  # fmt: skip

    result = run("network", "list", "--name-prefix", "back")

    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "ID", "Name", "CIDR", "Gateway", "Pools", "External", "Shared", "Status",
    ]  # fmt: skip
    assert row.split()[1:] == [
        "backend", "10.1.0.0/24", "10.1.0.1", "10.1.0.10-10.1.0.20", "false", "false", "ACTIVE",
    ]  # fmt: skip
    assert fake.requests_to("GET", f"{API}/networks")[-1]["name_prefix"] == "back"


def test_network_show_rename_and_delete_by_name(run: Run, fake: FakeCloudplane) -> None:
    network = fake.add_network("backend")

    shown = run("network", "show", "backend", "-f", "json")
    renamed = run("network", "rename", "backend", "internal", "-f", "json")
    deleted = run("network", "delete", "internal")

    assert json.loads(shown.stdout)["id"] == network["id"]
    assert json.loads(renamed.stdout)["name"] == "internal"
    assert sent_to(fake, "PATCH", f"{API}/networks/{network['id']}") == [{"name": "internal"}]
    assert deleted.stdout == "Deleted network internal.\n"
    assert fake.store["networks"] == {}


def test_port_create_resolves_the_network_and_sends_the_address_and_name(
    run: Run, fake: FakeCloudplane
) -> None:
    network = fake.add_network("backend", cidr="10.1.0.0/24")

    result = run(
        "port", "create", "--network", "backend", "--fixed-ip", "10.1.0.50", "--name", "vip",
        "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/ports") == [
        {"network_id": network["id"], "fixed_ip": "10.1.0.50", "name": "vip"}
    ]
    assert json.loads(result.stdout)["fixed_ips"] == ["10.1.0.50"]


def test_a_taken_fixed_ip_is_reported_as_a_conflict(run: Run, fake: FakeCloudplane) -> None:
    network = fake.add_network("backend", cidr="10.1.0.0/24")
    fake.add_port(network, "10.1.0.50")

    result = run("port", "create", "--network", "backend", "--fixed-ip", "10.1.0.50")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (conflict): 10.1.0.50 is taken")


def test_port_list_filters_by_network_and_server_given_by_name(
    run: Run, fake: FakeCloudplane
) -> None:
    backend = fake.add_network("backend", cidr="10.1.0.0/24")
    server = fake.add_server("web-1")
    mine = fake.add_port(backend, "10.1.0.7", device_id=server["id"])
    fake.add_port(fake.add_network("other"), "10.0.0.7")

    result = run("port", "list", "--network", "backend", "--server", "web-1")

    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == [mine["id"]]
    query = fake.requests_to("GET", f"{API}/ports")[-1]
    assert (query["network_id"], query["device_id"]) == (backend["id"], server["id"])


def test_port_show_and_delete_by_name(run: Run, fake: FakeCloudplane) -> None:
    port = fake.add_port(fake.add_network("backend"), "10.0.0.9", name="vip")

    shown = run("port", "show", "vip", "-f", "json")
    deleted = run("port", "delete", "vip")

    assert json.loads(shown.stdout) == port
    assert deleted.stdout == "Deleted port vip.\n"
    assert fake.store["ports"] == {}
