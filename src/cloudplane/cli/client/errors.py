"""What the API client raises: one base class the command line turns into ``Error (code): …``."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of every error the client half of the command line raises.

    ``code`` is a short machine word (an API error code such as ``conflict``, or one of the
    client's own: ``connection_error``, ``timeout``, ``operation_failed``, ``not_logged_in``, …),
    ``message`` a sentence for people, ``request_id`` the server's request id when one is known.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details: dict[str, Any] = details or {}


class ApiError(ClientError):
    """The API answered with a non-2xx status.

    Built from the API's error body ``{"error": {"code", "message", "request_id", "details"}}``;
    when the body has another shape the code falls back to one derived from the status.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(code, message, request_id=request_id, details=details)
        self.status = status

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r}, message={self.message!r})"


class ApiConnectionError(ClientError):
    """The API could not be reached, or the connection broke before an answer arrived."""

    def __init__(self, message: str) -> None:
        super().__init__("connection_error", message)


class BadResponseError(ClientError):
    """The API answered 2xx with a body that is not what the contract promises."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__("bad_response", message, request_id=request_id)


class WaitTimeoutError(ClientError):
    """A wait for an operation or a status did not see its condition before the deadline."""

    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)


class OperationFailedError(ClientError):
    """An operation the client waited for ended ``failed``; ``operation`` is its last body."""

    def __init__(self, operation: dict[str, Any]) -> None:
        self.operation = operation
        super().__init__(
            "operation_failed",
            _describe_failure(operation),
            request_id=_str_or_none(operation.get("request_id")),
            details={"error": operation.get("error")},
        )


class ResourceFailedError(ClientError):
    """A resource the client waited on went to an error state it was not waiting for."""

    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        fault = resource.get("fault")
        reason = _describe_error_value(fault) if fault else "no fault recorded"
        super().__init__(
            "resource_failed",
            f"{resource.get('id', 'the resource')} went to {resource.get('status')}: {reason}",
            details={"fault": fault},
        )


def _describe_failure(operation: dict[str, Any]) -> str:
    what = operation.get("action") or "operation"
    target = operation.get("resource_id")
    subject = f"{what} of {target}" if target else str(what)
    reason = _describe_error_value(operation.get("error"))
    return f"operation {operation.get('id')} ({subject}) failed: {reason}"


def _describe_error_value(error: object) -> str:
    # API.md does not fix the shape of an operation's ``error`` or a ``fault``: accept a plain
    # string or an object with ``code``/``message``.
    if error is None:
        return "no error recorded"
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        if message is not None:
            return f"{message} ({code})" if code else str(message)
        return str(error)
    return str(error)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
