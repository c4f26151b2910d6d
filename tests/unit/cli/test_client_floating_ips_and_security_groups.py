"""``cloudplane floating-ip …`` and ``security-group …`` against the fake API."""

from __future__ import annotations

import json

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, Json

from cloudplane.cli.client.api import API


def sent_to(fake: FakeCloudplane, method: str, path: str) -> list[object]:
    return [body for m, p, body in fake.bodies if m == method and p == path]


def server_with_port(fake: FakeCloudplane) -> tuple[Json, Json]:
    server = fake.add_server("web-1")
    port = fake.add_port(fake.add_network("backend"), "10.0.0.5", device_id=server["id"])
    return server, port


def test_floating_ip_create_takes_it_from_an_external_network_given_by_name(
    run: Run, fake: FakeCloudplane
) -> None:
    public = fake.add_network("public", cidr="203.0.113.0/24", external=True)

    result = run(
        "floating-ip", "create", "--network", "public", "--description", "web", "-f", "json"
    )

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/floating-ips") == [
        {"description": "web", "network_id": public["id"]}
    ]
    created = json.loads(result.stdout)
    assert (created["status"], created["network_id"]) == ("DOWN", public["id"])


def test_floating_ip_create_without_a_network_leaves_the_choice_to_the_api(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_network("public", external=True)

    result = run("floating-ip", "create")

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/floating-ips") == [{}]


def test_a_floating_ip_is_found_by_its_address(run: Run, fake: FakeCloudplane) -> None:
    floating_ip = fake.add_floating_ip("203.0.113.7", fake.add_network("public", external=True))

    result = run("floating-ip", "show", "203.0.113.7", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == floating_ip
    assert fake.requests_to("GET", f"{API}/floating-ips")[-1]["ip"] == "203.0.113.7"


def test_associate_with_a_server_name_waits_and_the_server_then_shows_the_address(
    run: Run, fake: FakeCloudplane
) -> None:
    server, port = server_with_port(fake)
    floating_ip = fake.add_floating_ip("203.0.113.7", fake.add_network("public", external=True))

    result = run("floating-ip", "associate", "203.0.113.7", "--server", "web-1", "--wait", "-f",
                 "json")  # fmt: skip
    shown = run("server", "show", "web-1", "-f", "json")

    assert result.exit_code == 0, result.output
    associated = json.loads(result.stdout)
    assert (associated["status"], associated["task_state"]) == ("ACTIVE", None)
    assert (associated["port_id"], associated["fixed_ip"]) == (port["id"], "10.0.0.5")
    path = f"{API}/floating-ips/{floating_ip['id']}/associate"
    assert sent_to(fake, "POST", path) == [{"server_id": server["id"]}]
    assert json.loads(shown.stdout)["floating_ips"] == [
        {"id": floating_ip["id"], "ip": "203.0.113.7"}
    ]


def test_associate_with_a_port_name_sends_the_port(run: Run, fake: FakeCloudplane) -> None:
    port = fake.add_port(fake.add_network("backend"), "10.0.0.5", name="vip")
    floating_ip = fake.add_floating_ip("203.0.113.7", fake.add_network("public", external=True))

    result = run("floating-ip", "associate", floating_ip["id"], "--port", "vip")

    assert result.exit_code == 0, result.output
    path = f"{API}/floating-ips/{floating_ip['id']}/associate"
    assert sent_to(fake, "POST", path) == [{"port_id": port["id"]}]
    assert "associating" in result.stdout
    assert "Operation " in result.stderr


def test_associate_needs_exactly_one_of_server_and_port(run: Run, fake: FakeCloudplane) -> None:
    neither = run("floating-ip", "associate", "203.0.113.7")
    both = run("floating-ip", "associate", "203.0.113.7", "--server", "a", "--port", "b")

    assert (neither.exit_code, both.exit_code) == (2, 2)
    assert "exactly one of --server and --port" in both.output
    assert fake.requests == []


def test_associating_an_address_that_is_in_use_elsewhere_is_a_conflict(
    run: Run, fake: FakeCloudplane
) -> None:
    server_with_port(fake)
    fake.add_floating_ip(
        "203.0.113.7", fake.add_network("public", external=True), port_id="other", status="ACTIVE"
    )

    result = run("floating-ip", "associate", "203.0.113.7", "--server", "web-1")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error (conflict): floating IP 203.0.113.7 is associated")
    assert "  status: ACTIVE" in result.stderr


def test_disassociate_with_wait_shows_the_address_down_and_unmapped(
    run: Run, fake: FakeCloudplane
) -> None:
    server, port = server_with_port(fake)
    floating_ip = fake.add_floating_ip(
        "203.0.113.7", fake.add_network("public", external=True),
        status="ACTIVE", port_id=port["id"], server_id=server["id"], fixed_ip="10.0.0.5",
    )  # fmt: skip
    server["floating_ips"] = [{"id": floating_ip["id"], "ip": "203.0.113.7"}]

    result = run("floating-ip", "disassociate", "203.0.113.7", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["status"], shown["port_id"], shown["server_id"]) == ("DOWN", None, None)
    assert server["floating_ips"] == []


def test_floating_ip_list_and_delete(run: Run, fake: FakeCloudplane) -> None:
    fake.add_floating_ip("203.0.113.7", fake.add_network("public", external=True))

    listed = run("floating-ip", "list", "--status", "down")
    deleted = run("floating-ip", "delete", "203.0.113.7")

    assert listed.stdout.splitlines()[0].split()[:3] == ["ID", "IP", "Status"]
    assert "203.0.113.7" in listed.stdout
    assert fake.requests_to("GET", f"{API}/floating-ips")[0]["status"] == "DOWN"
    assert deleted.stdout == "Released floating IP 203.0.113.7.\n"
    assert fake.store["floating-ips"] == {}


def test_security_group_create_list_and_delete(run: Run, fake: FakeCloudplane) -> None:
    created = run("security-group", "create", "web", "--description", "web tier", "-f", "json")
    listed = run("security-group", "list")
    deleted = run("security-group", "delete", "web")

    assert created.exit_code == 0, created.output
    assert sent_to(fake, "POST", f"{API}/security-groups") == [
        {"name": "web", "description": "web tier"}
    ]
    assert listed.stdout.splitlines()[0].split() == ["ID", "Name", "Rules", "Description"]
    assert "web tier" in listed.stdout
    assert deleted.stdout == "Deleted security group web.\n"
    assert fake.store["security-groups"] == {}


def test_rule_add_resolves_the_group_and_sends_only_what_was_given(
    run: Run, fake: FakeCloudplane
) -> None:
    group = fake.add_security_group("web")

    result = run(
        "security-group", "rule-add", "web", "--direction", "ingress", "--protocol", "tcp",
        "--port-min", "80", "--port-max", "443", "--remote-cidr", "0.0.0.0/0", "-f", "json",
    )  # fmt: skip
    single = run(
        "security-group", "rule-add", "web", "--direction", "egress", "--protocol", "udp",
        "--port-min", "53",
    )  # fmt: skip

    assert result.exit_code == single.exit_code == 0, result.output + single.output
    assert sent_to(fake, "POST", f"{API}/security-groups/{group['id']}/rules") == [
        {
            "direction": "ingress",
            "protocol": "tcp",
            "port_min": 80,
            "port_max": 443,
            "remote_cidr": "0.0.0.0/0",
        },
        {"direction": "egress", "protocol": "udp", "port_min": 53},
    ]
    assert json.loads(result.stdout)["security_group_id"] == group["id"]


def test_rule_add_refuses_an_unknown_protocol_or_a_port_out_of_range(
    run: Run, fake: FakeCloudplane
) -> None:
    fake.add_security_group("web")

    protocol = run("security-group", "rule-add", "web", "--direction", "ingress", "--protocol",
                   "sctp")  # fmt: skip
    port = run("security-group", "rule-add", "web", "--direction", "ingress", "--protocol", "tcp",
               "--port-min", "70000")  # fmt: skip

    assert (protocol.exit_code, port.exit_code) == (2, 2)
    assert fake.requests == []


def test_show_prints_the_rules_as_a_table_below_the_group(run: Run, fake: FakeCloudplane) -> None:
    group = fake.add_security_group("web")
    run("security-group", "rule-add", "web", "--direction", "ingress", "--protocol", "tcp",
        "--port-min", "22", "--remote-cidr", "10.0.0.0/8")  # fmt: skip

    table = run("security-group", "show", "web")
    as_json = run("security-group", "show", "web", "-f", "json")

    assert table.exit_code == 0, table.output
    rule = group["rules"][0]
    assert "Rules" in table.stdout
    rule_row = next(line for line in table.stdout.splitlines() if line.startswith(rule["id"]))
    assert rule_row.split() == [rule["id"], "ingress", "tcp", "22", "10.0.0.0/8", "IPv4"]
    assert json.loads(as_json.stdout) == group


def test_rule_delete_deletes_the_rule_by_id(run: Run, fake: FakeCloudplane) -> None:
    group = fake.add_security_group("web")
    run("security-group", "rule-add", "web", "--direction", "ingress", "--protocol", "icmp")
    rule_id = group["rules"][0]["id"]

    result = run("security-group", "rule-delete", rule_id)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Deleted security group rule {rule_id}.\n"
    assert group["rules"] == []
    assert fake.requests_to("DELETE", f"{API}/security-group-rules/{rule_id}") == [{}]
