"""The test cloud's HTTP server: one stdlib server in a thread, hosting many isolated clouds.

Each cloud lives under ``/<cloud key>/``; its Keystone catalogue points every service at that
prefix (``identity``, ``compute/v2.1``, ``volume/v3/<project>``, ``network/v2.0``,
``image/v2``), so a test gets a cloud of its own by asking for a new key.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.openstack_cloud import cinder, glance, keystone, neutron, nova
from tests.openstack_cloud.payloads import error_body, version_document
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, dispatch
from tests.openstack_cloud.state import PROJECT_ID, Cloud, LoggedRequest

# service name -> (regex for the versioned root, routes, error-payload service, version doc)
_SERVICES: dict[str, tuple[re.Pattern[str], list[Route], str]] = {
    "identity": (re.compile(r"^/v3"), keystone.ROUTES, "compute"),
    "compute": (re.compile(r"^/v2\.1"), nova.ROUTES, "compute"),
    "volume": (re.compile(r"^/v3(?:/[0-9a-f]{32})?"), cinder.ROUTES, "volume"),
    "network": (re.compile(r"^/v2\.0"), neutron.ROUTES, "network"),
    "image": (re.compile(r"^/v2"), glance.ROUTES, "image"),
}
_VERSION_DOCS = {
    "identity": "identity_version",
    "compute": "compute_version",
    "volume": "volume_version",
    "network": "network_versions",
    "image": "image_versions",
}
_MICROVERSIONED = {"compute": "compute", "volume": "volume"}


class CloudServer:
    """Serves every cloud made by ``new_cloud`` on ``127.0.0.1`` at a free port."""

    def __init__(self) -> None:
        self.clouds: dict[str, Cloud] = {}
        self._clouds_lock = threading.Lock()
        handler = _handler_class(self)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def new_cloud(self, key: str | None = None) -> Cloud:
        """The cloud under ``key`` (made on first use), or a brand-new one."""
        with self._clouds_lock:
            key = key or uuid.uuid4().hex
            if key not in self.clouds:
                self.clouds[key] = Cloud(key)
            return self.clouds[key]

    def auth_url(self, cloud: Cloud) -> str:
        return f"{self.base_url(cloud)}/identity/v3"

    def base_url(self, cloud: Cloud) -> str:
        return f"http://127.0.0.1:{self.port}/{cloud.key}"

    def endpoints(self, cloud: Cloud) -> dict[str, str]:
        base = self.base_url(cloud)
        return {
            "identity": f"{base}/identity/v3",
            "compute": f"{base}/compute/v2.1",
            "volumev3": f"{base}/volume/v3/{PROJECT_ID}",
            "block-storage": f"{base}/volume/v3/{PROJECT_ID}",
            "network": f"{base}/network",
            "image": f"{base}/image",
        }

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        url = urlsplit(raw_path)
        parts = url.path.split("/", 3)  # "", key, service, rest
        cloud = self.clouds.get(parts[1]) if len(parts) > 2 else None
        if cloud is None or parts[2] not in _SERVICES:
            return Reply(404, {"message": f"nothing at {url.path}"})
        service = parts[2]
        rest = "/" + parts[3] if len(parts) > 3 else "/"
        root, routes, error_service = _SERVICES[service]
        service_base = f"{self.base_url(cloud)}/{service}"
        versioned = root.match(rest)
        if versioned is None or rest.rstrip("/") == versioned.group(0):
            return self._discovery(service, service_base, versioned is not None)
        query = parse_qs(url.query, keep_blank_values=True)
        path = rest[versioned.end() :] or "/"
        with cloud.lock:
            cloud.requests.append(LoggedRequest(service, method, path, query))
            delay_s = cloud.response_delay_s if service != "identity" else 0.0
        if delay_s:
            time.sleep(delay_s)  # the simulated cloud's own latency, outside the lock
        with cloud.lock:
            request = Request(method, path, query, headers, _parse(body, headers))
            injected = cloud.take_injected(service, method, path)
            try:
                if service != "identity" and not headers.get("x-auth-token"):
                    raise CloudError(401, "The request you have made requires authentication.")
                if injected is not None and not injected.after_handling:
                    raise CloudError(injected.status, injected.message)
                if service == "identity":
                    request.headers["x-cloud-endpoints"] = json.dumps(self.endpoints(cloud))
                reply = dispatch(routes, cloud, request)
                if injected is not None:
                    raise CloudError(injected.status, injected.message)
            except CloudError as error:
                reply = _error_reply(error_service, error)
        reply.headers.setdefault("X-Openstack-Request-Id", f"req-{uuid.uuid4()}")
        microversion_service = _MICROVERSIONED.get(service)
        if microversion_service is not None:
            major, minor = request.microversion(microversion_service)
            reply.headers["OpenStack-API-Version"] = f"{microversion_service} {major}.{minor}"
        return reply

    @staticmethod
    def _discovery(service: str, service_base: str, versioned: bool) -> Reply:
        document = version_document(_VERSION_DOCS[service], service_base)
        if "version" in document and not versioned:
            document = {"versions": [document["version"]]}
        return Reply(200, document)


def _parse(body: bytes, headers: dict[str, str]) -> Any:
    if not body:
        return None
    if "json" in headers.get("content-type", ""):
        return json.loads(body)
    return body


def _error_reply(service: str, error: CloudError) -> Reply:
    status = error.status if error.status in (400, 403, 404, 409, 413, 500) else 400
    return Reply(error.status, error_body(service, status, error.message))


def _handler_class(server: CloudServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.handle(self.command, self.path, headers, body)
            if isinstance(reply.body, bytes):
                data, content_type = reply.body, "application/octet-stream"
            elif reply.body is None:
                data, content_type = b"", "application/json"
            else:
                data, content_type = json.dumps(_public(reply.body)).encode(), "application/json"
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        # The stdlib looks handlers up by these names.
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests assert on the cloud's request log instead."""

    return _Handler


def _public(value: Any) -> Any:
    """The payload without the cloud's private bookkeeping keys (``_after``, ``_reads``)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
