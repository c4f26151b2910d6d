"""Health, readiness, metrics, version, request ids and the OpenAPI document."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import create_server

from cloudplane.drivers.base import DriverError
from cloudplane.runtime import Runtime


async def test_healthz_answers_ok_without_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["driver"] == "ok"


async def test_readyz_is_503_naming_the_driver_when_it_does_not_answer(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_check() -> None:
        raise DriverError("backend unreachable", code="unavailable")

    monkeypatch.setattr(runtime.driver, "check", broken_check)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert "backend unreachable" in body["checks"]["driver"]


async def test_metrics_count_requests_by_route_and_status(admin: ApiSession) -> None:
    await admin.get("/servers")
    await admin.get("/servers/00000000-0000-0000-0000-000000000000")
    text = (await admin.client.get("/metrics")).text
    assert (
        'cloudplane_http_requests_total{method="GET",route="/api/v1/servers",status="200"}' in text
    )
    assert (
        'cloudplane_http_requests_total{method="GET",route="/api/v1/servers/{server_id}",'
        'status="404"}' in text
    )
    assert "cloudplane_http_request_duration_seconds_bucket" in text


async def test_finished_operations_are_counted_in_metrics(admin: ApiSession) -> None:
    await create_server(admin)
    await admin.settle()
    text = (await admin.client.get("/metrics")).text
    assert 'cloudplane_operations_total{action="create",outcome="finished"} 1.0' in text


async def test_version_names_the_driver_and_its_capabilities(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/version")).json()
    assert body["driver"] == "simulator"
    assert "pause" in body["capabilities"]
    assert body["version"].count(".") == 2


async def test_a_sane_request_id_is_echoed_and_a_bad_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "client-abc.123"})
    assert echoed.headers["x-request-id"] == "client-abc.123"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"].startswith("req-")
    fresh = await client.get("/healthz")
    assert fresh.headers["x-request-id"].startswith("req-")


async def test_log_lines_of_a_request_carry_its_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with caplog.at_level(logging.INFO):  # the tests' service logs warnings and up
        await client.get("/healthz", headers={"X-Request-ID": "trace-me-42"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert len(request_lines) == 1
    (rendered,) = request_lines
    assert rendered["request_id"] == "trace-me-42"
    assert rendered["path"] == "/healthz"
    assert rendered["status"] == 200
    assert rendered["level"] == "info"
    assert rendered["logger"] == "cloudplane.kit.middleware"
    assert rendered["timestamp"].endswith("Z")


async def test_an_unexpected_failure_is_a_bare_500_without_a_trace(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(_server_id: str) -> None:
        raise RuntimeError("secret internal detail")

    server = await create_server(admin)
    await admin.settle()
    monkeypatch.setattr(admin.runtime.driver, "get_console", explode)
    transport = httpx.ASGITransport(app=admin.client._transport.app, raise_app_exceptions=False)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as raw:
        response = await raw.get(f"/api/v1/servers/{server['id']}/console", headers=admin.headers)
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert error["message"] == "internal error"


async def test_validation_errors_list_field_paths(admin: ApiSession) -> None:
    error = assert_error(await admin.post("/servers", json={"name": 5}), 422, "validation_error")
    locations = {tuple(e["loc"]) for e in error["details"]["errors"]}
    assert ("body", "name") in locations
    assert ("body", "flavor_id") in locations


async def test_the_openapi_document_describes_every_operation_and_its_errors(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "ErrorBody" in document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            assert operation.get("description") or operation.get("summary"), (method, path)
            if not any(code.startswith(("4", "5")) for code in operation["responses"]):
                missing.append(f"{method.upper()} {path}")
    assert missing == ["GET /api/v1/version"]  # the one endpoint that cannot fail
    create = document["paths"]["/api/v1/servers"]["post"]
    assert "202" in create["responses"]
    assert "409" in create["responses"]
    header_names = {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert "idempotency-key" in {name.lower() for name in header_names}
