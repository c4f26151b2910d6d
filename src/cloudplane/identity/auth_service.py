"""Logging in, refreshing tokens, and describing the caller.

A failed login answers the same 401 whether the username is unknown, the password wrong, the
user disabled, or the project not theirs, and it always spends one password verification, so
neither the answer nor its timing reveals which users exist.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity import repository
from cloudplane.identity.authenticator import resolve_principal
from cloudplane.identity.models import Project, User
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.identity.principal import Principal
from cloudplane.identity.tokens import InvalidToken, TokenCodec
from cloudplane.kit.errors import Unauthorized

BAD_LOGIN = "invalid username, password or project"
BAD_REFRESH = "invalid or expired refresh token"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    principal: Principal


async def log_in(
    session: AsyncSession,
    passwords: PasswordHashing,
    tokens: TokenCodec,
    *,
    username: str,
    password: str,
    project_id: str | None = None,
) -> IssuedTokens:
    """A token pair for a live, enabled user with the right password, scoped to one project.

    Without ``project_id`` the token is scoped to the user's oldest membership in a live,
    enabled project; an admin without memberships gets the first such project by name.
    """
    user = await repository.get_live_user_by_username(session, username)
    # Runs off the event loop: argon2 is deliberately slow.
    matched = await asyncio.to_thread(
        passwords.verify, user.password_hash if user else None, password
    )
    if user is None or not matched or not user.enabled:
        raise Unauthorized(BAD_LOGIN)
    if project_id is None:
        project_id = await _default_project_id(session, user)
    if project_id is None:
        raise Unauthorized(BAD_LOGIN)
    principal = await resolve_principal(session, user.id, project_id)
    if principal is None:
        raise Unauthorized(BAD_LOGIN)
    return issue_tokens(tokens, principal)


async def refresh(session: AsyncSession, tokens: TokenCodec, refresh_token: str) -> IssuedTokens:
    """A new pair for a refresh token whose user and project are still valid; else 401."""
    try:
        claims = tokens.decode(refresh_token, "refresh")
    except InvalidToken as exc:
        raise Unauthorized(BAD_REFRESH) from exc
    principal = await resolve_principal(session, claims.user_id, claims.project_id)
    # A refresh token issued before the password last changed is spent.
    if principal is None or not principal.issued_under(claims.credential):
        raise Unauthorized(BAD_REFRESH)
    return issue_tokens(tokens, principal)


def issue_tokens(tokens: TokenCodec, principal: Principal) -> IssuedTokens:
    access, access_expires = tokens.issue(
        principal.user_id, principal.project_id, "access", credential=principal.credential
    )
    refresh_token, refresh_expires = tokens.issue(
        principal.user_id, principal.project_id, "refresh", credential=principal.credential
    )
    return IssuedTokens(access, access_expires, refresh_token, refresh_expires, principal)


async def describe_caller(session: AsyncSession, principal: Principal) -> tuple[User, Project]:
    """The caller's user and project rows; 401 if either vanished since authentication."""
    user = await repository.get_user(session, principal.user_id)
    project = await repository.get_project(session, principal.project_id)
    if user is None or project is None:
        raise Unauthorized("invalid or expired token")
    return user, project


async def _default_project_id(session: AsyncSession, user: User) -> str | None:
    project_id = await repository.oldest_membership_project_id(session, user.id)
    if project_id is None and user.is_admin:
        project_id = await repository.first_project_id_by_name(session)
    return project_id
