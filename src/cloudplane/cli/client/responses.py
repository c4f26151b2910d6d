"""Reading the API's answers: JSON bodies, error bodies and the operation behind a 202."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from cloudplane.cli.client.errors import ApiError, BadResponseError

# Codes for error answers whose body is not the contract's (a proxy's page, say).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
    501: "not_supported",
    503: "unavailable",
}


@dataclass(frozen=True)
class Accepted:
    """A ``202 Accepted`` answer: the resource in its transitional state and its operation."""

    resource: dict[str, Any]
    operation_id: str | None


def raise_for_status(response: httpx.Response) -> None:
    """Raise the :class:`ApiError` of a non-2xx response; do nothing for a 2xx one."""
    if not response.is_success:
        raise error_from_response(response)


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the :class:`ApiError` for a non-2xx response, whatever shape its body has.

    The contract's ``{"error": {"code", "message", "request_id", "details"}}`` is used as is;
    anything else gets a code derived from the status, the start of the body as message, and
    the ``X-Request-ID`` header as request id.
    """
    status = response.status_code
    header_request_id = response.headers.get("X-Request-ID")
    fallback_code = _STATUS_CODES.get(status, f"http_{status}")
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        details = error.get("details")
        request_id = error.get("request_id")
        return ApiError(
            status,
            code if isinstance(code, str) and code else fallback_code,
            error["message"],
            details if isinstance(details, dict) else {},
            request_id if isinstance(request_id, str) and request_id else header_request_id,
        )
    text = " ".join(response.text.split())[:200]
    message = f"HTTP {status} {response.reason_phrase}".strip()
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = f"{message}: {body['detail']}"
    elif text:
        message = f"{message}: {text}"
    return ApiError(status, fallback_code, message, {}, header_request_id)


def json_of(response: httpx.Response) -> Any:
    """The parsed JSON body of a 2xx response; ``None`` when it has no body."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise BadResponseError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not JSON",
            request_id=response.headers.get("X-Request-ID"),
        ) from exc


def object_of(value: Any, *, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a :class:`BadResponseError` naming ``what``."""
    if not isinstance(value, dict):
        raise BadResponseError(f"{what} is not a JSON object")
    return value


def accepted_from(response: httpx.Response) -> Accepted:
    """The resource and operation of a 2xx answer to a create or an action."""
    body = json_of(response)
    resource = body if isinstance(body, dict) else {}
    return Accepted(resource, operation_id_of(resource, response.headers.get("Location")))


def operation_id_of(body: dict[str, Any], location: str | None) -> str | None:
    """Find the operation of a 202 answer.

    API.md says a 202 carries "the resource … and an ``operation_id``" and that ``Location``
    leads to the operation; it does not pin where the id sits, so look in the body's top level,
    then an ``operation`` object, then the ``Location`` header.
    """
    direct = body.get("operation_id")
    if isinstance(direct, str) and direct:
        return direct
    nested = body.get("operation")
    if isinstance(nested, dict) and isinstance(nested.get("id"), str):
        return str(nested["id"])
    if location and "/operations/" in location:
        tail = location.rstrip("/").rsplit("/operations/", 1)[1]
        return tail.split("?", 1)[0] or None
    return None
