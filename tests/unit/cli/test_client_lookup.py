"""Names given where ids are expected are resolved through the list endpoint's name filter."""

from __future__ import annotations

import uuid

import pytest
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API, ApiClient
from cloudplane.cli.client.errors import ClientError
from cloudplane.cli.client.lookup import FLOATING_IP, IMAGE, NETWORK, SERVER, USER, resolve_id


def test_a_unique_name_resolves_to_its_id_with_the_name_filter(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.add_server("db-1")
    web = fake.add_server("web-1")

    assert resolve_id(client, SERVER, "web-1") == web["id"]
    assert fake.requests_to("GET", f"{API}/servers")[-1]["name"] == "web-1"


def test_a_name_nothing_has_is_not_found(client: ApiClient, fake: FakeCloudplane) -> None:
    fake.add_server("web-1")

    with pytest.raises(ClientError) as caught:
        resolve_id(client, SERVER, "web-2")

    assert caught.value.code == "not_found"
    assert "no server is named 'web-2'" in caught.value.message


def test_a_name_several_resources_share_is_ambiguous_and_lists_their_ids(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    # Images of two projects may share a name when one of them is public.
    first = fake.add("images", name="ubuntu", visibility="public")
    second = fake.add("images", name="ubuntu", visibility="private")

    with pytest.raises(ClientError) as caught:
        resolve_id(client, IMAGE, "ubuntu")

    assert caught.value.code == "ambiguous"
    assert first["id"] in caught.value.message
    assert second["id"] in caught.value.message


def test_an_id_is_used_as_is_without_a_request(client: ApiClient, fake: FakeCloudplane) -> None:
    server_id = str(uuid.uuid4())

    assert resolve_id(client, SERVER, server_id) == server_id
    assert fake.requests_to("GET", f"{API}/servers") == []


def test_users_are_looked_up_by_username(client: ApiClient, fake: FakeCloudplane) -> None:
    bob = fake.add("users", username="bob")

    assert resolve_id(client, USER, "bob") == bob["id"]
    assert fake.requests_to("GET", f"{API}/users")[-1]["username"] == "bob"


def test_floating_ips_are_looked_up_by_their_address(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    public = fake.add_network("public", external=True)
    fake.add_floating_ip("203.0.113.8", public)
    wanted = fake.add_floating_ip("203.0.113.7", public)

    assert resolve_id(client, FLOATING_IP, "203.0.113.7") == wanted["id"]
    assert fake.requests_to("GET", f"{API}/floating-ips")[-1]["ip"] == "203.0.113.7"


def test_a_network_name_shared_by_two_projects_is_ambiguous(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    # A project sees its own networks and every shared one, so names can repeat in a list.
    fake.add_network("backend")
    fake.add_network("backend", project_id="other", shared=True)

    with pytest.raises(ClientError) as caught:
        resolve_id(client, NETWORK, "backend")

    assert caught.value.code == "ambiguous"
    assert "2 networks are named 'backend'" in caught.value.message
