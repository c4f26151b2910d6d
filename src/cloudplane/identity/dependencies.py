"""Authentication and authorisation dependencies for every endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloudplane.identity.principal import Principal
from cloudplane.kit.deps import runtime_of
from cloudplane.kit.errors import Forbidden, RateLimited, Unauthorized

_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT access token from POST /api/v1/auth/token, or an API key (cpk_…).",
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller; 401 without a valid bearer credential."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    runtime = runtime_of(request)
    principal = await runtime.authenticator.authenticate(credentials.credentials)
    request.state.principal = principal
    caller = f"key:{principal.api_key_id}" if principal.api_key_id else f"user:{principal.user_id}"
    retry_after_s = await runtime.rate_limiter.take(caller)
    if retry_after_s is not None:
        raise RateLimited("too many requests; slow down", retry_after_s=retry_after_s)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_writer(principal: CurrentPrincipal) -> Principal:
    """Members and admins may change things; a reader's write is 403."""
    if not principal.can_write:
        raise Forbidden("your role in this project is read-only")
    return principal


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this action needs the admin role")
    return principal


WriterPrincipal = Annotated[Principal, Depends(require_writer)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
