"""``/api/v1/users``: user accounts, for admins. Passwords go in and never come out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity import repository, service
from cloudplane.identity.dependencies import AdminPrincipal
from cloudplane.identity.models import User
from cloudplane.identity.schemas import UserCreate, UserOut, UserUpdate
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

router = PrefixedRouter(prefix="/api/v1/users", tags=["identity"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)

UsernameQuery = Annotated[str | None, Query(max_length=64, description="Exact username.")]
PrefixQuery = Annotated[str | None, Query(max_length=64, description="Username prefix.")]


@router.get("", responses=error_responses(Unauthorized, Forbidden, BadRequest))
async def list_users(
    session: SessionDep,
    principal: AdminPrincipal,
    params: ListParamsDep,
    username: UsernameQuery = None,
    username_prefix: PrefixQuery = None,
    name: Annotated[str | None, Query(max_length=64, description="Same as `username`.")] = None,
    name_prefix: Annotated[
        str | None, Query(max_length=64, description="Same as `username_prefix`.")
    ] = None,
    is_admin: bool | None = None,
    enabled: bool | None = None,
    deleted: Annotated[bool, Query(description="Include deleted users.")] = False,
) -> Page[UserOut]:
    """Users; `sort` also accepts `username` (`name` sorts by username too)."""
    stmt = repository.users_query(
        include_deleted=deleted,
        username=username if username is not None else name,
        username_prefix=username_prefix if username_prefix is not None else name_prefix,
        is_admin=is_admin,
        enabled=enabled,
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=User.id,
        sort_columns={
            **timestamped_name_sorts(User, User.username),
            "username": User.username,
        },
        params=params,
    )
    return Page(items=[UserOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_user(
    request: Request,
    body: UserCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
    idempotency: IdempotencyDep,
) -> UserOut:
    """Create a user; a username taken by a live user is 409."""
    user = await service.create_user(
        session,
        runtime.passwords,
        username=body.username,
        password=body.password,
        email=body.email,
        is_admin=body.is_admin,
    )
    note_resource(request, user.id)
    created = UserOut.model_validate(user)
    await idempotency.remember(status.HTTP_201_CREATED, created)
    return created


@router.get("/{user_id}", responses=error_responses(Unauthorized, Forbidden, NotFound))
async def show_user(
    user_id: str,
    session: SessionDep,
    principal: AdminPrincipal,
    deleted: Annotated[bool, Query(description="Also find a deleted user.")] = False,
) -> UserOut:
    """One user."""
    return UserOut.model_validate(await service.get_user(session, user_id, deleted=deleted))


@router.patch("/{user_id}", responses=_WRITE_ERRORS)
async def update_user(
    user_id: str,
    body: UserUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
) -> UserOut:
    """Change a user's email, password, enabled flag or admin role (not your own off-switches)."""
    user = await service.update_user(
        session, runtime.passwords, user_id, body.changes(), acting_user_id=principal.user_id
    )
    service.forget_credentials_after_commit(session, runtime.authenticator)
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_user(
    user_id: str, session: SessionDep, runtime: RuntimeDep, principal: AdminPrincipal
) -> None:
    """Delete a user with their memberships and API keys; deleting yourself is 409."""
    await service.delete_user(session, user_id, acting_user_id=principal.user_id)
    service.forget_credentials_after_commit(session, runtime.authenticator)
