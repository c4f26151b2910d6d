"""The error hierarchy and its rendering as the API's error body.

Every expected failure is an ``ApiError`` subclass that carries its HTTP status and code; one
handler renders it as ``{"error": {"code", "message", "request_id", "details"}}``. Anything else
is logged with its trace and answered with a bare 500 by the request middleware.
"""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloudplane.kit import request_context


class ApiError(Exception):
    """An expected failure that the API reports to the client."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class ValidationFailed(ApiError):
    """Input that is well-formed JSON but breaks a rule; ``details.errors`` lists why."""

    status_code = 422
    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        if field is not None:
            details.setdefault("errors", [{"loc": field.split("."), "msg": message}])
        super().__init__(message, **details)


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - constant per class


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    """Missing, soft-deleted, or in another project: the answer never tells which."""

    status_code = 404
    code = "not_found"

    def __init__(self, resource: str, resource_id: str | None = None) -> None:
        message = f"{resource} {resource_id} not found" if resource_id else f"{resource} not found"
        super().__init__(message, resource=resource)


class Conflict(ApiError):
    """Wrong state, name taken, or in use; ``details.status`` gives the current state."""

    status_code = 409
    code = "conflict"


class QuotaExceeded(ApiError):
    status_code = 409
    code = "quota_exceeded"

    def __init__(self, resource: str, *, limit: int, in_use: int, requested: int) -> None:
        super().__init__(
            f"quota for {resource} exceeded: limit {limit}, in use {in_use}, requested {requested}",
            resource=resource,
            limit=limit,
            in_use=in_use,
            requested=requested,
        )


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after_s)}


class Unavailable(ApiError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 5, **details: Any) -> None:
        super().__init__(message, **details)
        self.headers = {"Retry-After": str(retry_after_s)}


class NotSupported(ApiError):
    status_code = 501
    code = "not_supported"


class ErrorDetail(BaseModel):
    code: str = Field(examples=["conflict"])
    message: str
    request_id: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "request_id": request_context.current_request_id(),
            "details": details or {},
        }
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "bad_request",
    409: "conflict",
    413: "bad_request",
    415: "bad_request",
    429: "rate_limited",
    501: "not_supported",
    503: "unavailable",
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure as the error body of API.md."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        message = f"{'.'.join(first['loc'])}: {first['msg']}"
        return error_response(422, "validation_error", message, {"errors": errors})

    async def _outage(_request: Request, exc: Exception) -> JSONResponse:
        if is_transaction_collision(exc):
            return error_response(
                409,
                "conflict",
                "the request collided with a concurrent one and was rolled back; retry it",
                {"status": "contention"},
                {"Retry-After": "1"},
            )
        if not is_database_outage(exc):
            raise exc
        return error_response(
            503,
            "unavailable",
            "the database is unavailable; retry shortly",
            {"dependency": "database"},
            {"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
        )

    for outage in _OUTAGE_TYPES:
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)


OUTAGE_RETRY_AFTER_S = 5

_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    sqlalchemy.exc.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P")
_OUTAGE_TYPES: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DBAPIError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
)


# A deadlock victim or a serialization failure: the engine rolled the whole transaction back.
_COLLISION_SQLSTATES = frozenset({"40001", "40P01"})
_COLLISION_MYSQL_ERRNOS = frozenset({1205, 1213})  # lock wait timeout, deadlock


def is_transaction_collision(exc: BaseException) -> bool:
    """Whether ``exc`` means the transaction lost a race with another one (deadlock,
    serialization failure, lock wait timeout): nothing was stored, and retrying may succeed.
    """
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    if getattr(orig, "sqlstate", None) in _COLLISION_SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _COLLISION_MYSQL_ERRNOS


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached right now (a 503, not a bug).

    Connection failures, pool timeouts, connections dropped mid-query, a server that is
    starting or shutting down, and SQLite's "database is locked" qualify; constraint
    violations, SQL errors and transaction collisions do not.
    """
    if is_transaction_collision(exc):
        return False
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        return exc.orig is not None and is_database_outage(exc.orig)
    if isinstance(exc, _CONNECTION_FAILURES):
        return True
    # PostgreSQL's "connection exception" and "operator intervention" classes: a server going
    # down or starting up. asyncpg's error often arrives wrapped in the driver adapter's own.
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATE_PREFIXES):
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_database_outage(cause)


def error_responses(*errors: type[ApiError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the errors an endpoint can answer."""
    documented: dict[int | str, dict[str, Any]] = {}
    every: tuple[type[ApiError], ...] = (*errors, ValidationFailed)
    for err in every:
        entry = documented.setdefault(
            err.status_code, {"model": ErrorBody, "description": err.code}
        )
        if err.code not in entry["description"].split(" | "):
            entry["description"] += f" | {err.code}"
    return documented
