"""Reading answers: where a 202 names its operation, and error bodies of any shape."""

from __future__ import annotations

import httpx

from cloudplane.cli.client.responses import error_from_response, operation_id_of


def test_the_operation_id_is_read_from_the_body_first() -> None:
    body = {"id": "s", "operation_id": "op-1"}

    assert operation_id_of(body, "/api/v1/operations/op-2") == "op-1"


def test_the_operation_id_is_read_from_a_nested_operation_object() -> None:
    assert operation_id_of({"operation": {"id": "op-3"}}, None) == "op-3"


def test_the_operation_id_falls_back_to_the_location_header() -> None:
    assert operation_id_of({}, "http://h/api/v1/operations/op-4?x=1") == "op-4"
    assert operation_id_of({}, "/api/v1/servers/s") is None


def test_a_json_error_of_another_shape_keeps_its_detail_and_request_header() -> None:
    response = httpx.Response(404, json={"detail": "Not Found"}, headers={"X-Request-ID": "req-9"})

    error = error_from_response(response)

    assert (error.status, error.code, error.request_id) == (404, "not_found", "req-9")
    assert error.message == "HTTP 404 Not Found: Not Found"
