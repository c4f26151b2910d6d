"""Where the command line's login lives, and how a ready-to-use :class:`ApiClient` is made.

The login is ``$CLOUDPLANE_CONFIG_DIR/credentials.json`` (default ``~/.config/cloudplane/``),
readable by its owner only. ``CLOUDPLANE_URL`` and ``CLOUDPLANE_TOKEN`` override it; with
``CLOUDPLANE_TOKEN`` set no file is needed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloudplane.cli.client.api import API, ApiClient
from cloudplane.cli.client.errors import ApiError, BadResponseError, ClientError

CONFIG_DIR_ENV = "CLOUDPLANE_CONFIG_DIR"
URL_ENV = "CLOUDPLANE_URL"
TOKEN_ENV = "CLOUDPLANE_TOKEN"
POLL_INTERVAL_ENV = "CLOUDPLANE_POLL_INTERVAL_S"
CREDENTIALS_FILE = "credentials.json"
# Refresh a little before the stated expiry so a request sent just before it still passes.
EXPIRY_MARGIN = timedelta(seconds=30)


@dataclass
class Credentials:
    """One login: the server, the token pair and the project the token is scoped to."""

    url: str
    access_token: str
    refresh_token: str | None
    expires_at: str | None
    project_id: str | None

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the access token is past (or within a few seconds of) its ``expires_at``."""
        if not self.expires_at:
            return False
        try:
            expires = datetime.fromisoformat(self.expires_at)
        except ValueError:
            return False
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) + EXPIRY_MARGIN >= expires


def config_dir() -> Path:
    """The configuration directory: ``$CLOUDPLANE_CONFIG_DIR`` or ``~/.config/cloudplane``."""
    configured = os.environ.get(CONFIG_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".config" / "cloudplane"


def credentials_path() -> Path:
    """The credentials file inside :func:`config_dir`."""
    return config_dir() / CREDENTIALS_FILE


def normalize_url(url: str) -> str:
    """The server root as stored: scheme required, no trailing slash."""
    cleaned = url.strip().rstrip("/")
    if not cleaned.startswith(("http://", "https://")):
        raise ClientError("bad_url", f"{url!r} is not an http:// or https:// URL")
    return cleaned


def load_credentials() -> Credentials | None:
    """Read the stored login; ``None`` when there is none. A damaged file is an error."""
    path = credentials_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _damaged(path) from exc
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(key), str) for key in ("url", "access_token")
    ):
        raise _damaged(path)
    return Credentials(
        url=raw["url"],
        access_token=raw["access_token"],
        refresh_token=_optional_str(raw.get("refresh_token")),
        expires_at=_optional_str(raw.get("expires_at")),
        project_id=_optional_str(raw.get("project_id")),
    )


def save_credentials(credentials: Credentials) -> Path:
    """Write the login atomically with mode 0600 (directory 0700) and return the file's path.

    The file is created 0600 before any secret is written to it, then renamed over the old one,
    so neither a half-written file nor a moment of wider permissions can occur.
    """
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(credentials), handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def delete_credentials() -> bool:
    """Remove the stored login; ``True`` if there was one."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True


def login(url: str, username: str, password: str, project_id: str | None) -> Credentials:
    """Exchange a username and password for a token pair (``POST /auth/token``) and store it."""
    server = normalize_url(url)
    body: dict[str, Any] = {"username": username, "password": password}
    if project_id:
        body["project_id"] = project_id
    with ApiClient(server) as client:
        answer = client.post(f"{API}/auth/token", body)
    credentials = _credentials_from(server, answer, previous=None)
    save_credentials(credentials)
    return credentials


def refresh(credentials: Credentials) -> Credentials:
    """Trade the refresh token for a new pair (``POST /auth/refresh``), store it and return it."""
    if not credentials.refresh_token:
        raise ClientError("unauthorized", "the login has expired; run `cloudplane login` again")
    try:
        with ApiClient(credentials.url) as client:
            answer = client.post(
                f"{API}/auth/refresh", {"refresh_token": credentials.refresh_token}
            )
    except ApiError as exc:
        # Refresh tokens may be single-use: a command running beside this one may have spent
        # it and saved the new pair already. Use that pair rather than give up.
        current = _reload_quietly()
        if current and current.access_token != credentials.access_token and not current.expired():
            return current
        if exc.status in {400, 401, 403}:
            raise ClientError(
                "unauthorized",
                "the login has expired and cannot be renewed; run `cloudplane login` again",
                request_id=exc.request_id,
            ) from exc
        raise
    renewed = _credentials_from(credentials.url, answer, previous=credentials)
    save_credentials(renewed)
    return renewed


def open_client() -> ApiClient:
    """An :class:`ApiClient` for the current user, from the environment or the stored login.

    ``CLOUDPLANE_TOKEN`` wins over the stored token and is used as is (never refreshed).
    ``CLOUDPLANE_URL`` wins over the stored URL; a stored token is only ever sent to the server
    it was issued by, so a different ``CLOUDPLANE_URL`` without ``CLOUDPLANE_TOKEN`` is an error.
    A stored access token that has expired is refreshed first when a refresh token exists.
    """
    env_url = os.environ.get(URL_ENV) or None
    env_token = os.environ.get(TOKEN_ENV) or None
    poll_interval_s = _poll_interval()
    if env_token:
        stored_url = None if env_url else _stored_url()
        url = env_url or stored_url
        if not url:
            raise ClientError("not_logged_in", f"{TOKEN_ENV} is set but {URL_ENV} is not")
        return ApiClient(normalize_url(url), env_token, poll_interval_s=poll_interval_s)
    credentials = load_credentials()
    if credentials is None:
        raise ClientError(
            "not_logged_in", f"not logged in: run `cloudplane login` or set {TOKEN_ENV}"
        )
    if env_url and normalize_url(env_url) != normalize_url(credentials.url):
        raise ClientError(
            "not_logged_in",
            f"the stored login is for {credentials.url}, not {env_url}; "
            f"log in there or set {TOKEN_ENV}",
        )
    if credentials.expired() and credentials.refresh_token:
        credentials = refresh(credentials)
    return ApiClient(credentials.url, credentials.access_token, poll_interval_s=poll_interval_s)


def _credentials_from(url: str, answer: Any, *, previous: Credentials | None) -> Credentials:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise BadResponseError("the token answer has no access_token")
    # A refresh answer may leave out what did not change; keep the previous values then.
    return Credentials(
        url=url,
        access_token=answer["access_token"],
        refresh_token=_optional_str(answer.get("refresh_token"))
        or (previous.refresh_token if previous else None),
        expires_at=_optional_str(answer.get("expires_at")),
        project_id=_optional_str(answer.get("project_id"))
        or (previous.project_id if previous else None),
    )


def _reload_quietly() -> Credentials | None:
    try:
        return load_credentials()
    except ClientError:
        return None


def _stored_url() -> str | None:
    stored = _reload_quietly()
    return stored.url if stored else None


def _poll_interval() -> float:
    raw = os.environ.get(POLL_INTERVAL_ENV)
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise ClientError("bad_config", f"{POLL_INTERVAL_ENV}={raw!r} is not a number") from exc
    return max(0.01, value)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _damaged(path: Path) -> ClientError:
    return ClientError(
        "bad_credentials_file", f"{path} is damaged; run `cloudplane logout` and log in again"
    )
