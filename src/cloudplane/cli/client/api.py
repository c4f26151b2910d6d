"""A small synchronous client for the cloudplane HTTP API (see API.md).

Paths are absolute from the server root (``/api/v1/servers``); :data:`API` is the prefix.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Self

import httpx

from cloudplane import __version__
from cloudplane.cli.client.errors import (
    ApiConnectionError,
    ApiError,
    BadResponseError,
    ClientError,
    OperationFailedError,
    ResourceFailedError,
    WaitTimeoutError,
)
from cloudplane.cli.client.responses import (
    Accepted,
    accepted_from,
    json_of,
    object_of,
    raise_for_status,
)

__all__ = [
    "API",
    "Accepted",
    "ApiClient",
    "ApiConnectionError",
    "ApiError",
    "ClientError",
    "Page",
    "Transfer",
]

API = "/api/v1"
CHUNK_SIZE = 1024 * 1024
Params = Mapping[str, str | int | bool | None]

_RETRYABLE_STATUSES = {429, 503}
_ERROR_STATUSES = {"ERROR", "error"}


@dataclass(frozen=True)
class Page:
    """Items gathered from one or more list pages; ``next_marker`` continues after the last one."""

    items: list[dict[str, Any]]
    next_marker: str | None


@dataclass(frozen=True)
class Transfer:
    """What a streamed upload sent or a download received: byte count and SHA-256."""

    size_bytes: int
    sha256: str


class ApiClient:
    """Talks to one cloudplane server with one bearer token (an access token or an API key).

    Every method raises :class:`ApiError` for a non-2xx answer, :class:`ApiConnectionError` when
    the server cannot be reached, and :class:`BadResponseError` for a 2xx body that is not JSON.
    Reads, and writes carrying an ``Idempotency-Key``, are retried up to ``max_retries`` times on
    429/503, honouring ``Retry-After`` (capped at ``max_retry_delay_s``); other requests never are.
    Waits poll soon at first, then every ``poll_interval_s`` at most.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        poll_interval_s: float = 1.0,
        max_retries: int = 2,
        max_retry_delay_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_interval_s = poll_interval_s
        self.max_retries = max_retries
        self.max_retry_delay_s = max_retry_delay_s
        headers = {"Accept": "application/json", "User-Agent": f"cloudplane-cli/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    # -- plain requests ---------------------------------------------------------------------

    def get(self, path: str, params: Params | None = None) -> Any:
        """GET ``path`` and return the parsed JSON body."""
        return json_of(self.request("GET", path, params=params))

    def post(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Any:
        """POST a JSON body and return the parsed answer (``None`` for an empty one)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return json_of(self.request("POST", path, json=json, headers=headers))

    def patch(self, path: str, json: Any) -> Any:
        """PATCH with a JSON body and return the parsed answer."""
        return json_of(self.request("PATCH", path, json=json))

    def put(self, path: str, json: Any = None) -> Any:
        """PUT a JSON body and return the parsed answer (``None`` for an empty one)."""
        return json_of(self.request("PUT", path, json=json))

    def delete(self, path: str) -> Any:
        """DELETE ``path`` and return the parsed answer (``None`` for an empty one)."""
        return json_of(self.request("DELETE", path))

    def create(self, path: str, json: Any) -> Accepted:
        """POST a create with a fresh ``Idempotency-Key`` (a retry then creates nothing twice).

        Works for both ``201`` (``operation_id`` is then usually ``None``) and ``202`` answers.
        """
        key = str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        return accepted_from(self.request("POST", path, json=json, headers=headers))

    def act(self, method: str, path: str, json: Any = None) -> Accepted:
        """Send a request answered with ``202 Accepted``; return the resource and operation."""
        return accepted_from(self.request(method, path, json=json))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (retrying as the class says) and return a 2xx response."""
        retryable = method in {"GET", "HEAD"} or bool(headers and "Idempotency-Key" in headers)
        query = _clean_params(params)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, params=query, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                raise self._connection_error(exc) from exc
            if response.status_code not in _RETRYABLE_STATUSES or not retryable:
                break
            if attempt >= self.max_retries:
                break
            attempt += 1
            time.sleep(self._retry_delay(response))
        raise_for_status(response)
        return response

    # -- lists ------------------------------------------------------------------------------

    def iter_pages(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Yield list pages (``{"items", "next_marker"}``), following ``next_marker`` to the end."""
        query: dict[str, str | int | bool | None] = dict(params or {})
        seen: set[str] = set()
        while True:
            page = object_of(self.get(path, query), what=f"the list at {path}")
            if not isinstance(page.get("items"), list):
                raise BadResponseError(f"the list at {path} has no 'items' array")
            yield page
            marker = page.get("next_marker")
            if not marker:
                return
            # A server that hands back a marker it gave before would make this loop forever.
            if str(marker) in seen:
                raise BadResponseError(f"the list at {path} repeated the marker {marker}")
            seen.add(str(marker))
            query["marker"] = str(marker)

    def paginate(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Yield every item of a list, page after page, following ``next_marker``.

        ``params`` filter the list; a ``limit`` among them sets the page size, not the total.
        """
        for page in self.iter_pages(path, params):
            yield from page["items"]

    def collect(
        self, path: str, params: Params | None = None, *, max_items: int | None = None
    ) -> Page:
        """Gather up to ``max_items`` items (all when ``None``) across pages.

        The returned ``next_marker`` continues exactly after the last gathered item, or is
        ``None`` when the list is exhausted.
        """
        query: dict[str, str | int | bool | None] = dict(params or {})
        if max_items is not None and "limit" not in query:
            query["limit"] = max(1, min(max_items, 1000))
        items: list[dict[str, Any]] = []
        for page in self.iter_pages(path, query):
            for item in page["items"]:
                if max_items is not None and len(items) >= max_items:
                    return Page(items, _id_of(items[-1]) if items else None)
                items.append(item)
            if max_items is not None and len(items) >= max_items:
                return Page(items, page.get("next_marker") or None)
        return Page(items, None)

    # -- streams ----------------------------------------------------------------------------

    def upload(
        self,
        path: str,
        source: IO[bytes],
        *,
        size_bytes: int | None = None,
        chunk_size: int = CHUNK_SIZE,
        method: str = "PUT",
    ) -> Transfer:
        """Stream ``source`` to ``path`` as ``application/octet-stream``, chunk by chunk.

        The file is read ``chunk_size`` bytes at a time while the request is being sent; it is
        never held in memory whole. ``size_bytes``, when known, is sent as ``Content-Length``
        (so the server can refuse an oversized upload at once); otherwise the body is chunked.
        Never retried: a half-read stream cannot be replayed.
        """
        digest = hashlib.sha256()
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            while chunk := source.read(chunk_size):
                digest.update(chunk)
                sent += len(chunk)
                yield chunk

        headers = {"Content-Type": "application/octet-stream"}
        if size_bytes is not None:
            headers["Content-Length"] = str(size_bytes)
        # The server may take a while after the last byte (checksum, format check).
        timeout = httpx.Timeout(self._http.timeout.connect, read=300.0)
        try:
            response = self._http.request(
                method, path, content=chunks(), headers=headers, timeout=timeout
            )
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        raise_for_status(response)
        return Transfer(sent, digest.hexdigest())

    def download(self, path: str, sink: IO[bytes], *, chunk_size: int = CHUNK_SIZE) -> Transfer:
        """Stream the body of ``GET path`` into ``sink`` chunk by chunk; return size and SHA-256."""
        digest = hashlib.sha256()
        received = 0
        try:
            with self._http.stream("GET", path) as response:
                if not response.is_success:
                    response.read()
                    raise_for_status(response)
                for chunk in response.iter_bytes(chunk_size):
                    digest.update(chunk)
                    received += len(chunk)
                    sink.write(chunk)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        return Transfer(received, digest.hexdigest())

    # -- waiting ----------------------------------------------------------------------------

    def wait_for_operation(self, operation_id: str, timeout_s: float) -> dict[str, Any]:
        """Poll ``GET /operations/{id}`` until it ends, and return the finished operation.

        Raises :class:`OperationFailedError` (carrying the operation's ``error``) if it ends
        ``failed``, and :class:`WaitTimeoutError` if it has not ended after ``timeout_s``.
        """
        path = f"{API}/operations/{operation_id}"
        poll = _Poller(timeout_s, self.poll_interval_s)
        while True:
            operation = object_of(self.get(path), what=f"operation {operation_id}")
            status = operation.get("status")
            if status == "succeeded":
                return operation
            if status == "failed":
                raise OperationFailedError(operation)
            if not poll.pause():
                raise WaitTimeoutError(
                    f"operation {operation_id} is still {status} after {timeout_s:g} s; "
                    f"follow it with `cloudplane operation show {operation_id}`"
                )

    def wait_for_status(
        self, path: str, wanted: set[str], timeout_s: float, *, require_idle: bool = True
    ) -> dict[str, Any]:
        """Poll ``GET path`` until the resource's ``status`` is one of ``wanted``; return it.

        With ``require_idle`` a resource that has a ``task_state`` must also have none in flight
        (a server rebooting may still say ACTIVE). Raises :class:`ResourceFailedError` when the
        resource reaches an error status that is not wanted, and :class:`WaitTimeoutError` after
        ``timeout_s``.
        """
        poll = _Poller(timeout_s, self.poll_interval_s)
        while True:
            resource = object_of(self.get(path), what=path)
            status = resource.get("status")
            idle = not require_idle or resource.get("task_state") is None
            if status in wanted and idle:
                return resource
            if status in _ERROR_STATUSES and status not in wanted:
                raise ResourceFailedError(resource)
            if not poll.pause():
                raise WaitTimeoutError(
                    f"{path} is still {status} after {timeout_s:g} s "
                    f"(waiting for {', '.join(sorted(wanted))})"
                )

    def wait_for_deletion(self, path: str, timeout_s: float) -> None:
        """Poll ``GET path`` until it answers 404 (deleted resources are hidden from reads)."""
        poll = _Poller(timeout_s, self.poll_interval_s)
        while True:
            try:
                resource = object_of(self.get(path), what=path)
            except ApiError as exc:
                if exc.status == 404:
                    return
                raise
            if resource.get("status") in _ERROR_STATUSES:
                raise ResourceFailedError(resource)
            if not poll.pause():
                raise WaitTimeoutError(f"{path} still exists after {timeout_s:g} s")

    def _retry_delay(self, response: httpx.Response) -> float:
        try:
            delay = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            # An HTTP-date Retry-After is legal but rare; a short default is good enough here.
            delay = 1.0
        return max(0.0, min(delay, self.max_retry_delay_s))

    def _connection_error(self, exc: httpx.TransportError) -> ApiConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return ApiConnectionError(f"{self.base_url} did not answer in time ({exc!r})")
        reason = str(exc) or type(exc).__name__
        return ApiConnectionError(f"cannot reach {self.base_url}: {reason}")


class _Poller:
    """Paces a polling loop: short pauses first, growing to ``max_interval_s``, until a deadline.

    Most operations finish in well under a second, so the first look comes soon; a long one is
    then not hammered.
    """

    def __init__(self, timeout_s: float, max_interval_s: float) -> None:
        self._deadline = time.monotonic() + timeout_s
        self._max_interval_s = max_interval_s
        self._interval_s = min(0.1, max_interval_s)

    def pause(self) -> bool:
        """Sleep before the next look; ``False`` (without sleeping) once the deadline has passed."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(self._interval_s, remaining))
        self._interval_s = min(self._interval_s * 2, self._max_interval_s)
        return True


def _id_of(item: dict[str, Any]) -> str | None:
    value = item.get("id")
    return str(value) if value is not None else None


def _clean_params(params: Params | None) -> dict[str, str | int] | None:
    # None means "not given"; booleans go out as the lower-case words the API parses.
    if not params:
        return None
    cleaned: dict[str, str | int] = {}
    for key, value in params.items():
        if value is None:
            continue
        cleaned[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return cleaned
