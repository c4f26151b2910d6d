"""``/api/v1/auth``: log in, refresh a token pair, and ask who the token belongs to."""

from __future__ import annotations

from fastapi import Request

from cloudplane.identity import auth_service
from cloudplane.identity.auth_service import IssuedTokens
from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.identity.schemas import (
    RefreshRequest,
    TokenPair,
    TokenRequest,
    WhoAmI,
    WhoAmIProject,
    WhoAmIUser,
)
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import RateLimited, Unauthorized, error_responses
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.runtime import Runtime

router = PrefixedRouter(prefix="/api/v1/auth", tags=["identity"])


def _token_pair(issued: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=issued.access_token,
        expires_at=issued.expires_at,
        refresh_token=issued.refresh_token,
        refresh_expires_at=issued.refresh_expires_at,
        project_id=issued.principal.project_id,
        roles=issued.principal.role_names(),
    )


async def _spend_login_attempt(runtime: Runtime, address: str, username: str) -> None:
    """Spend one login attempt of the client address and then of the username; 429 with
    ``Retry-After`` when either has none left.

    Checked before the (deliberately slow) password check, so guesses past the limit cost the
    service nothing. The address's bucket holds back one client trying many usernames; the
    username's, shared by every address, holds back guesses at one account from many.
    """
    for key in (f"login-address:{address}", f"login-user:{username.casefold()}"):
        retry_after_s = await runtime.login_limiter.take(key)
        if retry_after_s is not None:
            raise RateLimited(
                "too many login attempts; try again later", retry_after_s=retry_after_s
            )


# Logging in and refreshing only read, so they open a reading session of their own instead of
# the request's session: a POST's session starts as a writer, and on SQLite that would hold the
# database's write lock for the whole (deliberately slow) password check.


@router.post("/token", responses=error_responses(Unauthorized, RateLimited))
async def create_token(body: TokenRequest, request: Request, runtime: RuntimeDep) -> TokenPair:
    """Exchange a username and password for a token pair scoped to one project.

    Attempts are limited per username and per client address (``login_attempts_per_min``).
    """
    address = request.client.host if request.client else "unknown"
    await _spend_login_attempt(runtime, address, body.username)
    async with unit_of_work(runtime.sessions) as session:
        issued = await auth_service.log_in(
            session,
            runtime.passwords,
            runtime.authenticator.tokens,
            username=body.username,
            password=body.password,
            project_id=body.project_id,
        )
    return _token_pair(issued)


@router.post("/refresh", responses=error_responses(Unauthorized))
async def refresh_token(body: RefreshRequest, runtime: RuntimeDep) -> TokenPair:
    """Exchange a valid refresh token for a new token pair in the same project."""
    async with unit_of_work(runtime.sessions) as session:
        issued = await auth_service.refresh(
            session, runtime.authenticator.tokens, body.refresh_token
        )
    return _token_pair(issued)


@router.get("/whoami", responses=error_responses(Unauthorized))
async def whoami(session: SessionDep, principal: CurrentPrincipal) -> WhoAmI:
    """The user, project and roles behind the bearer credential."""
    user, project = await auth_service.describe_caller(session, principal)
    return WhoAmI(
        user=WhoAmIUser(
            id=user.id, username=user.username, email=user.email, is_admin=user.is_admin
        ),
        project=WhoAmIProject(id=project.id, name=project.name),
        roles=principal.role_names(),
        api_key_id=principal.api_key_id,
    )
