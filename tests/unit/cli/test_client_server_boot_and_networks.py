"""``server create`` boot sources, networks, ports and security groups: the bodies it sends."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, Json

from cloudplane.cli.client.api import API


def seed(fake: FakeCloudplane) -> dict[str, Json]:
    return {
        "flavor": fake.add("flavors", name="m1.small", vcpus=1, ram_mb=512, disk_gb=5),
        "image": fake.add("images", name="cirros", status="active", disk_format="qcow2"),
        "backend": fake.add_network("backend", cidr="10.0.0.0/24"),
        "frontend": fake.add_network("frontend", cidr="10.9.0.0/24"),
    }


def create_body(fake: FakeCloudplane) -> dict[str, Any]:
    (body,) = [body for method, path, body in fake.bodies if path == f"{API}/servers"]
    assert isinstance(body, dict)
    return body


def create(run: Run, *options: str) -> Any:
    return run("server", "create", "web-1", "--flavor", "m1.small", *options)


def test_a_network_with_a_fixed_ip_sends_the_network_id_and_the_address(
    run: Run, fake: FakeCloudplane
) -> None:
    ids = seed(fake)

    result = create(run, "--image", "cirros", "--network", "backend=10.0.0.5")

    assert result.exit_code == 0, result.output
    assert create_body(fake)["networks"] == [
        {"network_id": ids["backend"]["id"], "fixed_ip": "10.0.0.5"}
    ]


def test_networks_keep_their_order_and_ports_come_after_them(
    run: Run, fake: FakeCloudplane
) -> None:
    ids = seed(fake)
    port = fake.add_port(ids["backend"], "10.0.0.77", name="spare")

    result = create(
        run, "--image", "cirros", "--network", "frontend", "--port", "spare",
        "--network", ids["backend"]["id"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert create_body(fake)["networks"] == [
        {"network_id": ids["frontend"]["id"]},
        {"network_id": ids["backend"]["id"]},
        {"port_id": port["id"]},
    ]


def test_no_network_sends_an_empty_list(run: Run, fake: FakeCloudplane) -> None:
    seed(fake)

    result = create(run, "--image", "cirros", "--no-network")

    assert result.exit_code == 0, result.output
    assert create_body(fake)["networks"] == []


def test_without_network_options_the_body_leaves_networks_to_the_api(
    run: Run, fake: FakeCloudplane
) -> None:
    seed(fake)

    result = create(run, "--image", "cirros")

    assert result.exit_code == 0, result.output
    assert "networks" not in create_body(fake)
    assert "boot_volume" not in create_body(fake)
    assert "security_groups" not in create_body(fake)


def test_an_existing_boot_volume_by_name_needs_no_image(run: Run, fake: FakeCloudplane) -> None:
    seed(fake)
    volume = fake.add_volume("root-1", bootable=True)

    result = create(run, "--boot-volume", "root-1", "--wait", "-f", "json")

    assert result.exit_code == 0, result.output
    body = create_body(fake)
    assert body["boot_volume"] == {"volume_id": volume["id"]}
    assert "image_id" not in body
    assert json.loads(result.stdout)["status"] == "ACTIVE"


def test_a_boot_volume_size_makes_a_new_volume_from_the_image(
    run: Run, fake: FakeCloudplane
) -> None:
    ids = seed(fake)

    result = create(run, "--image", "cirros", "--boot-volume-size", "20")

    assert result.exit_code == 0, result.output
    body = create_body(fake)
    assert (body["image_id"], body["boot_volume"]) == (ids["image"]["id"], {"size_gb": 20})


def test_security_groups_are_resolved_to_ids_in_the_order_given(
    run: Run, fake: FakeCloudplane
) -> None:
    seed(fake)
    web = fake.add_security_group("web")
    default = fake.add_security_group("default")

    result = create(
        run, "--image", "cirros", "--security-group", "web", "--security-group", "default"
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert create_body(fake)["security_groups"] == [web["id"], default["id"]]


def test_mixes_of_options_that_cannot_go_together_are_usage_errors_and_send_nothing(
    run: Run, fake: FakeCloudplane
) -> None:
    seed(fake)

    no_boot_source = create(run)
    size_without_image = create(run, "--boot-volume-size", "10")
    both_boot_volumes = create(run, "--boot-volume", "root-1", "--boot-volume-size", "10")
    no_network_and_network = create(run, "--image", "cirros", "--no-network", "--network", "x")
    no_network_and_port = create(run, "--image", "cirros", "--no-network", "--port", "p")
    bad_address = create(run, "--image", "cirros", "--network", "backend=10.0.0.300")

    for result in (
        no_boot_source, size_without_image, both_boot_volumes, no_network_and_network,
        no_network_and_port, bad_address,
    ):  # fmt: skip
        assert result.exit_code == 2, result.output
    assert "give --image, or --boot-volume" in no_boot_source.output
    assert "'10.0.0.300' is not an IP address" in bad_address.output
    assert fake.requests == []


def test_an_unknown_network_stops_the_create_before_it_is_sent(
    run: Run, fake: FakeCloudplane
) -> None:
    seed(fake)

    result = create(run, "--image", "cirros", "--network", "nowhere")

    assert result.exit_code == 1
    assert "Error (not_found): no network is named 'nowhere'" in result.stderr
    assert fake.requests_to("POST", f"{API}/servers") == []
