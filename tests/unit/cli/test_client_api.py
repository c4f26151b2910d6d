"""ApiClient against a real HTTP server: errors, pagination, waiting, retries and streams."""

from __future__ import annotations

import hashlib
import io
import socket

import pytest
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API, ApiClient
from cloudplane.cli.client.errors import (
    ApiConnectionError,
    ApiError,
    BadResponseError,
    OperationFailedError,
    WaitTimeoutError,
)


def test_an_error_body_becomes_an_api_error_with_code_message_details_and_request_id(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.add_server("web-1", status="SHUTOFF")
    server_id = next(iter(fake.store["servers"]))

    with pytest.raises(ApiError) as caught:
        client.post(f"{API}/servers/{server_id}/stop")

    error = caught.value
    assert error.status == 409
    assert error.code == "conflict"
    assert error.message == "cannot stop a server that is SHUTOFF"
    assert error.details == {"status": "SHUTOFF"}
    assert error.request_id is not None
    assert error.request_id.startswith("req-")


def test_an_unauthenticated_request_is_an_unauthorized_api_error(api_url: str) -> None:
    with ApiClient(api_url, "not-a-token") as anonymous, pytest.raises(ApiError) as caught:
        anonymous.get(f"{API}/servers")

    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


def test_an_error_without_the_contract_body_still_gives_a_readable_api_error(
    client: ApiClient,
) -> None:
    with pytest.raises(ApiError) as caught:
        client.get(f"{API}/broken")

    assert caught.value.status == 502
    assert caught.value.code == "http_502"
    assert "Bad Gateway" in caught.value.message
    assert caught.value.request_id is not None  # taken from the X-Request-ID header


def test_an_unreachable_server_raises_a_connection_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with (
        ApiClient(f"http://127.0.0.1:{port}", "t") as nowhere,
        pytest.raises(ApiConnectionError) as caught,
    ):
        nowhere.get(f"{API}/servers")

    assert caught.value.code == "connection_error"
    assert f"127.0.0.1:{port}" in caught.value.message


def test_paginate_follows_next_marker_across_pages(client: ApiClient, fake: FakeCloudplane) -> None:
    flavors = [fake.add("flavors", name=f"f{n}") for n in range(7)]

    seen = list(client.paginate(f"{API}/flavors", {"limit": 3}))

    assert [item["id"] for item in seen] == [flavor["id"] for flavor in flavors]
    pages = fake.requests_to("GET", f"{API}/flavors")
    assert [page.get("marker") for page in pages] == [None, flavors[2]["id"], flavors[5]["id"]]
    assert all(page["limit"] == "3" for page in pages)


def test_collect_stops_at_max_items_and_says_where_to_continue(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    flavors = [fake.add("flavors", name=f"f{n}") for n in range(5)]

    first = client.collect(f"{API}/flavors", {"limit": 2}, max_items=3)
    rest = client.collect(f"{API}/flavors", {"marker": first.next_marker})

    assert [item["id"] for item in first.items] == [flavor["id"] for flavor in flavors[:3]]
    assert [item["id"] for item in rest.items] == [flavor["id"] for flavor in flavors[3:]]
    assert rest.next_marker is None


def test_a_marker_the_server_repeats_is_reported_instead_of_looping(client: ApiClient) -> None:
    with pytest.raises(BadResponseError, match="repeated the marker"):
        list(client.paginate(f"{API}/looping"))


def test_wait_for_operation_returns_the_operation_once_it_has_succeeded(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.polls_to_finish = 3
    accepted = client.create(f"{API}/servers", {"name": "web-1"})
    assert accepted.operation_id is not None

    operation = client.wait_for_operation(accepted.operation_id, timeout_s=10)

    assert operation["status"] == "succeeded"
    assert len(fake.requests_to("GET", f"{API}/operations/{accepted.operation_id}")) == 3
    assert fake.store["servers"][accepted.resource["id"]]["status"] == "ACTIVE"


def test_wait_for_operation_raises_with_the_operation_error_when_it_fails(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.failing_actions = {"create"}
    accepted = client.create(f"{API}/servers", {"name": "web-1"})
    assert accepted.operation_id is not None

    with pytest.raises(OperationFailedError) as caught:
        client.wait_for_operation(accepted.operation_id, timeout_s=10)

    assert caught.value.operation["status"] == "failed"
    assert caught.value.details["error"] == {
        "code": "driver_error",
        "message": "the hypervisor said no",
    }
    assert "the hypervisor said no" in caught.value.message
    assert caught.value.request_id == caught.value.operation["request_id"]


def test_wait_for_operation_gives_up_at_the_deadline(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.polls_to_finish = 10**6
    accepted = client.create(f"{API}/servers", {"name": "web-1"})
    assert accepted.operation_id is not None

    with pytest.raises(WaitTimeoutError, match="still running"):
        client.wait_for_operation(accepted.operation_id, timeout_s=0.1)


def test_wait_for_status_returns_once_the_resource_is_settled_in_a_wanted_status(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1")
    accepted = client.act("POST", f"{API}/servers/{server['id']}/stop")
    assert accepted.resource["status"] == "ACTIVE"  # still ACTIVE, but powering off
    assert accepted.operation_id is not None
    # Reading the operation is what moves the fake along; a real server moves by itself.
    fake.polls_to_finish = 1
    client.get(f"{API}/operations/{accepted.operation_id}")

    settled = client.wait_for_status(f"{API}/servers/{server['id']}", {"SHUTOFF"}, timeout_s=10)

    assert (settled["status"], settled["task_state"]) == ("SHUTOFF", None)


def test_wait_for_status_does_not_accept_a_wanted_status_with_a_task_in_flight(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    server = fake.add_server("web-1", task_state="rebooting")

    with pytest.raises(WaitTimeoutError, match="still ACTIVE"):
        client.wait_for_status(f"{API}/servers/{server['id']}", {"ACTIVE"}, timeout_s=0.1)


def test_a_read_answered_503_is_retried_after_retry_after(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.unavailable_before_success = 2

    assert client.get(f"{API}/flaky") == {"ok": True}
    assert len(fake.requests_to("GET", f"{API}/flaky")) == 3


def test_a_read_still_unavailable_after_the_retries_raises(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    fake.unavailable_before_success = 5

    with pytest.raises(ApiError) as caught:
        client.get(f"{API}/flaky")

    assert caught.value.code == "unavailable"
    assert len(fake.requests_to("GET", f"{API}/flaky")) == 1 + client.max_retries


def test_creates_carry_a_fresh_idempotency_key(client: ApiClient, fake: FakeCloudplane) -> None:
    client.create(f"{API}/servers", {"name": "a"})
    client.create(f"{API}/servers", {"name": "b"})

    keys = [headers.get("idempotency-key") for headers in fake.headers_of("POST", f"{API}/servers")]
    assert all(keys)
    assert len(set(keys)) == 2


class ReadRecorder(io.BytesIO):
    """A file that remembers how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.sizes.append(size)
        return super().read(size)


def test_upload_reads_the_file_in_bounded_chunks_and_the_server_gets_the_exact_bytes(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    image = fake.add("images", name="disk", status="queued")
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit
    source = ReadRecorder(data)

    sent = client.upload(
        f"{API}/images/{image['id']}/file", source, size_bytes=len(data), chunk_size=65536
    )

    assert all(size == 65536 for size in source.sizes)  # never read(-1), never more
    assert len(source.sizes) == len(data) // 65536 + 2  # every chunk, the tail, then EOF
    received = fake.uploads[image["id"]]
    assert received.size_bytes == sent.size_bytes == len(data)
    assert received.sha256 == sent.sha256 == hashlib.sha256(data).hexdigest()
    assert received.content_type == "application/octet-stream"
    assert received.content_length == str(len(data))


def test_download_streams_the_body_into_the_sink(client: ApiClient, fake: FakeCloudplane) -> None:
    image = fake.add("images", name="disk", status="active")
    fake.files[image["id"]] = b"x" * 300_000
    sink = io.BytesIO()

    got = client.download(f"{API}/images/{image['id']}/file", sink, chunk_size=4096)

    assert sink.getvalue() == fake.files[image["id"]]
    assert got.sha256 == hashlib.sha256(sink.getvalue()).hexdigest()


def test_a_download_of_a_missing_file_raises_the_api_error(
    client: ApiClient, fake: FakeCloudplane
) -> None:
    image = fake.add("images", name="disk", status="queued")

    with pytest.raises(ApiError) as caught:
        client.download(f"{API}/images/{image['id']}/file", io.BytesIO())

    assert caught.value.code == "not_found"
