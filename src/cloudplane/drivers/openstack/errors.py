"""The cloud's errors as the driver's: which are worth retrying, and what each one means.

OpenStack says "quota" three ways (Nova 403 ``forbidden`` or 413 ``overLimit``, Cinder 413,
Neutron 409 ``OverQuota``); all become ``DriverError(code="quota_exceeded")``, which the API
reports as ``quota_exceeded``. A 409 becomes ``conflict``, a 404 the contract's not-found error.
"""

from __future__ import annotations

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from cloudplane.drivers.errors import DriverError, ResourceNotFound, ServerNotFound

QUOTA_EXCEEDED = "quota_exceeded"
CONFLICT = "conflict"
CLOUD_UNAVAILABLE = "cloud_unavailable"
CLOUD_ERROR = "cloud_error"
BAD_REQUEST = "bad_request"

_QUOTA_WORDS = ("quota", "overlimit", "over_limit", "overquota")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a failed call, or ``None`` when no answer came."""
    if isinstance(exc, sdk_exceptions.HttpException):
        status = exc.status_code
        return int(status) if status is not None else None
    if isinstance(exc, ksa_exceptions.HttpError):
        return int(exc.http_status)
    return None


def is_retryable(exc: BaseException) -> bool:
    """5xx answers and calls that got no answer at all (refused, reset, timed out)."""
    status = status_of(exc)
    if status is not None:
        return status >= 500
    # Keystone discovery reports a refused connection as a discovery failure.
    return isinstance(
        exc,
        ksa_exceptions.DiscoveryFailure
        | ksa_exceptions.ConnectFailure
        | ksa_exceptions.ConnectTimeout
        | ksa_exceptions.RetriableConnectionFailure
        | ksa_exceptions.ConnectionError,
    )


def message_of(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = details if isinstance(details, str) and details else str(exc)
    return " ".join(text.split())[:900]


def is_quota(exc: BaseException) -> bool:
    status = status_of(exc)
    text = message_of(exc).lower().replace(" ", "")
    if status == 413:
        return True
    return status in (403, 409) and any(word in text for word in _QUOTA_WORDS)


def translate(exc: BaseException, *, kind: str | None = None, resource_id: str = "") -> DriverError:
    """The driver error for a failed cloud call about ``kind`` ``resource_id``."""
    if isinstance(exc, DriverError):
        return exc
    status = status_of(exc)
    message = message_of(exc)
    if is_quota(exc):
        return DriverError(f"the cloud refused for quota: {message}", code=QUOTA_EXCEEDED)
    if status == 404 and kind == "server":
        return ServerNotFound(resource_id)
    if status == 404 and kind is not None:
        return ResourceNotFound(kind, resource_id)
    if status == 409:
        return DriverError(f"the cloud refused: {message}", code=CONFLICT)
    if status is not None and 400 <= status < 500:
        return DriverError(f"the cloud refused: {message}", code=BAD_REQUEST)
    if status is None and is_retryable(exc):
        return DriverError(f"the cloud does not answer: {message}", code=CLOUD_UNAVAILABLE)
    return DriverError(f"the cloud failed: {message}", code=CLOUD_ERROR)
