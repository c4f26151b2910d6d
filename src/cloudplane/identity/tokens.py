"""JWT access and refresh tokens, and the opaque API-key format.

An access token names a user and one project; the roles are looked up on each request (with a
short cache), so revoking a membership takes effect without waiting for tokens to expire.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import jwt

from cloudplane.kit.clock import utcnow

API_KEY_PREFIX = "cpk_"
_ALGORITHM = "HS256"
TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    project_id: str
    kind: TokenKind
    expires_at: datetime
    credential: str
    """The ``Principal.credential`` the token was issued under."""


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


class TokenCodec:
    """Issues and checks signed tokens with one HS256 key."""

    def __init__(self, secret: str, *, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self._secret = secret
        self._ttl = {"access": access_ttl_s, "refresh": refresh_ttl_s}

    def issue(
        self, user_id: str, project_id: str, kind: TokenKind, *, credential: str
    ) -> tuple[str, datetime]:
        expires_at = utcnow() + timedelta(seconds=self._ttl[kind])
        claims = {
            "sub": user_id,
            "project_id": project_id,
            "typ": kind,
            "cred": credential,
            "exp": expires_at,
            "iat": utcnow(),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), expires_at

    def decode(self, token: str, kind: TokenKind) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "sub", "typ", "cred"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != kind or not isinstance(claims.get("project_id"), str):
            raise InvalidToken("wrong token kind")
        if not isinstance(claims["cred"], str):
            raise InvalidToken("malformed credential claim")
        return TokenClaims(
            user_id=str(claims["sub"]),
            project_id=claims["project_id"],
            kind=kind,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
            credential=claims["cred"],
        )


def load_or_create_secret(path: Path) -> str:
    """The signing key kept in the data dir, made on first use (readable by the owner only)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secret)
    tmp.chmod(0o600)
    tmp.replace(path)
    return secret


@dataclass(frozen=True, slots=True)
class NewApiKey:
    prefix: str
    secret: str
    secret_sha256: str

    @property
    def token(self) -> str:
        """What the client sends: ``cpk_<prefix>_<secret>``; shown once."""
        return f"{API_KEY_PREFIX}{self.prefix}_{self.secret}"


def new_api_key() -> NewApiKey:
    """A fresh key. The secret has 256 bits of entropy, so a plain SHA-256 is a safe hash."""
    prefix = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(prefix=prefix, secret=secret, secret_sha256=hash_api_secret(secret))


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_api_key(token: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a key-shaped token, or None when it is not an API key."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    prefix, _, secret = token[len(API_KEY_PREFIX) :].partition("_")
    if not prefix or not secret:
        return None
    return prefix, secret
