"""Turns a bearer credential (JWT access token or API key) into a ``Principal``.

The user, project and role lookup behind a credential is cached for ``auth_cache_ttl_s``
seconds per process: a hot path otherwise pays a database round trip per request. Revoked
memberships, disabled users and deleted keys therefore stop working within that many seconds.
An access token whose signature has been checked is remembered until it expires (with the same
switch: a TTL of 0 caches nothing), since checking it again would give the same answer.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloudplane.identity.models import ApiKey, Membership, Project, Role, User
from cloudplane.identity.passwords import credential_fingerprint
from cloudplane.identity.principal import Principal
from cloudplane.identity.tokens import (
    InvalidToken,
    TokenClaims,
    TokenCodec,
    hash_api_secret,
    split_api_key,
)
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE
from cloudplane.kit.errors import Unauthorized

_CACHE_LIMIT = 10_000


@dataclass(slots=True)
class _Cached:
    principal: Principal
    secret_sha256: str | None
    expires_at: float


class Authenticator:
    def __init__(
        self,
        tokens: TokenCodec,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_ttl_s: float,
    ) -> None:
        self.tokens = tokens
        self._sessions = sessions
        self._ttl = cache_ttl_s
        self._cache: dict[str, _Cached] = {}
        self._verified: dict[str, tuple[TokenClaims, float]] = {}

    def forget(self) -> None:
        """Drop every cached lookup (after a change an admin wants to take effect now)."""
        self._cache.clear()
        self._verified.clear()

    async def authenticate(self, credential: str) -> Principal:
        """The principal behind ``credential``; ``Unauthorized`` when it does not verify."""
        api_key = split_api_key(credential)
        if api_key is not None:
            return await self._from_api_key(*api_key)
        claims = self._access_claims(credential)
        cache_key = f"u:{claims.user_id}:{claims.project_id}"
        cached = self._cached(cache_key)
        if cached is not None:
            return _issued_for(cached.principal, claims.credential)
        async with self._sessions() as session:
            principal = await resolve_principal(session, claims.user_id, claims.project_id)
        if principal is None:
            raise Unauthorized("invalid or expired token")
        self._remember(cache_key, principal, None)
        return _issued_for(principal, claims.credential)

    async def _from_api_key(self, prefix: str, secret: str) -> Principal:
        digest = hash_api_secret(secret)
        cache_key = f"k:{prefix}"
        cached = self._cached(cache_key)
        if cached is not None and cached.secret_sha256 is not None:
            if hmac.compare_digest(cached.secret_sha256, digest):
                return cached.principal
            raise Unauthorized("invalid API key")
        async with self._sessions() as session:
            key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is None or not hmac.compare_digest(key.secret_sha256, digest):
                raise Unauthorized("invalid API key")
            if key.expires_at is not None and key.expires_at <= utcnow():
                raise Unauthorized("API key expired")
            principal = await resolve_principal(
                session, key.user_id, key.project_id, api_key_id=key.id
            )
        if principal is None:
            raise Unauthorized("invalid API key")
        self._remember(cache_key, principal, key.secret_sha256)
        return principal

    def _access_claims(self, token: str) -> TokenClaims:
        """The claims of a valid access token, verified once per token while it lasts."""
        verified = self._verified.get(token)
        if verified is not None and time.time() < verified[1]:
            return verified[0]
        try:
            claims = self.tokens.decode(token, "access")
        except InvalidToken as exc:
            raise Unauthorized("invalid or expired token") from exc
        if self._ttl > 0:
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified.clear()
            self._verified[token] = (claims, claims.expires_at.timestamp())
        return claims

    def _cached(self, cache_key: str) -> _Cached | None:
        entry = self._cache.get(cache_key)
        if entry is None or entry.expires_at < time.monotonic():
            return None
        return entry

    def _remember(self, cache_key: str, principal: Principal, secret_sha256: str | None) -> None:
        if self._ttl <= 0:
            return
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = _Cached(principal, secret_sha256, time.monotonic() + self._ttl)


def _issued_for(principal: Principal, credential: str) -> Principal:
    """``principal``, when the token was issued under the user's current password."""
    if not principal.issued_under(credential):
        raise Unauthorized("invalid or expired token")
    return principal


async def resolve_principal(
    session: AsyncSession, user_id: str, project_id: str, *, api_key_id: str | None = None
) -> Principal | None:
    """The principal for a live, enabled user in a live, enabled project, or None.

    Admins act in any project; everyone else needs a membership there.
    """
    row = (
        await session.execute(
            select(User.username, User.is_admin, User.password_hash, Membership.role)
            .select_from(User)
            .join(Project, (Project.id == project_id) & (Project.deleted_key == LIVE))
            .outerjoin(
                Membership,
                (Membership.user_id == User.id) & (Membership.project_id == project_id),
            )
            .where(
                User.id == user_id,
                User.deleted_key == LIVE,
                User.enabled.is_(True),
                Project.enabled.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    username, is_admin, password_hash, membership_role = row
    roles: set[Role] = set()
    if is_admin:
        roles.add(Role.ADMIN)
    if membership_role is not None:
        roles.add(Role(membership_role))
    if not roles:
        return None
    return Principal(
        user_id=user_id,
        username=username,
        project_id=project_id,
        roles=frozenset(roles),
        api_key_id=api_key_id,
        credential=credential_fingerprint(password_hash),
    )
