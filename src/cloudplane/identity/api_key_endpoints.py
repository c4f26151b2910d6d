"""``/api/v1/api-keys``: the caller's long-lived credentials.

A key acts as its user in the project it was created in. Its secret is shown in the creating
answer only: the server keeps a hash, and an ``Idempotency-Key`` replay answers ``key: null``.
"""

from __future__ import annotations

from fastapi import Request, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity import repository, service
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.identity.models import ApiKey
from cloudplane.identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, timestamped_name_sorts
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/api-keys", tags=["identity"])


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_api_keys(
    session: SessionDep, principal: CurrentPrincipal, params: ListParamsDep
) -> Page[ApiKeyOut]:
    """The caller's own keys in the caller's project (never their secrets)."""
    rows, next_marker = await paginate(
        session,
        repository.api_keys_query(principal.user_id, principal.project_id),
        id_column=ApiKey.id,
        sort_columns=timestamped_name_sorts(ApiKey, ApiKey.name),
        params=params,
    )
    return Page(items=[ApiKeyOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    # 409 only when two requests race with one Idempotency-Key.
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_api_key(
    request: Request,
    body: ApiKeyCreate,
    session: SessionDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> ApiKeyCreated:
    """Create a key for yourself in this project; its secret `key` is shown this once."""
    key, secret = await service.create_api_key(
        session, principal, name=body.name, expires_at=body.expires_at
    )
    note_resource(request, key.id)
    listed = ApiKeyOut.model_validate(key)
    # The stored replay leaves the secret out: only its hash may persist.
    await idempotency.remember(
        status.HTTP_201_CREATED, ApiKeyCreated(**listed.model_dump(), key=None)
    )
    return ApiKeyCreated(**listed.model_dump(), key=secret.token)


@router.delete(
    "/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_api_key(
    api_key_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Revoke one of your own keys (from any of your projects); others' keys are 404."""
    await service.delete_api_key(session, principal, api_key_id)
    service.forget_credentials_after_commit(session, runtime.authenticator)
