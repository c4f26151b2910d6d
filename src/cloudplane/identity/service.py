"""Identity rules: projects and their quotas, users, memberships and API keys.

Services ``flush()`` and never commit; the caller's unit of work commits. Uniqueness of live
names is left to the database's constraints: a flush that breaks one becomes 409 ``conflict``,
so two racing creates give one success and one conflict on every engine. Logging in and
refreshing tokens live in ``auth_service``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity import repository
from cloudplane.identity.authenticator import Authenticator
from cloudplane.identity.models import ApiKey, Membership, Project, Quota, Role, User
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import UsageCounter, count_usage, limits_of, lock_quota
from cloudplane.identity.tokens import NewApiKey, new_api_key
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import after_commit, new_id
from cloudplane.kit.errors import Conflict, NotFound, ValidationFailed

PROJECT_FIELDS = frozenset({"name", "description", "enabled"})
USER_FIELDS = frozenset({"email", "password", "enabled", "is_admin"})


def forget_credentials_after_commit(session: AsyncSession, authenticator: Authenticator) -> None:
    """Drop this process's cached credential lookups once the change is committed.

    Forgetting before the commit would let a request in between cache the old state again.
    """

    async def _forget() -> None:
        authenticator.forget()

    after_commit(session, _forget)


async def _flush_unique(session: AsyncSession, message: str, **details: object) -> None:
    """Flush; a unique constraint broken by the flush is 409 with ``message``."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message, **details) from exc


# Projects


async def create_project(
    session: AsyncSession, *, name: str, description: str = "", enabled: bool = True
) -> Project:
    """A new project with its quota row at the default limits; 409 if the name is taken."""
    project = Project(id=new_id(), name=name, description=description, enabled=enabled)
    session.add(project)
    session.add(Quota(project_id=project.id))
    await _flush_unique(session, f"a project named {name!r} already exists", name=name)
    return project


async def get_project(session: AsyncSession, project_id: str, *, deleted: bool = False) -> Project:
    """The project (soft-deleted ones only with ``deleted``); 404 otherwise."""
    project = await repository.get_project(session, project_id, include_deleted=deleted)
    if project is None:
        raise NotFound("project", project_id)
    return project


async def get_visible_project(
    session: AsyncSession, principal: Principal, project_id: str, *, deleted: bool = False
) -> Project:
    """A project the caller may see: any for admins, else one they are a member of (404)."""
    if not principal.is_admin:
        deleted = False
        if await repository.get_membership(session, project_id, principal.user_id) is None:
            raise NotFound("project", project_id)
    return await get_project(session, project_id, deleted=deleted)


async def find_project(session: AsyncSession, id_or_name: str) -> Project:
    """The live project with this id, else the one with this name; 404 when neither exists."""
    project = await repository.get_project(session, id_or_name)
    if project is None:
        project = await repository.get_live_project_by_name(session, id_or_name)
    if project is None:
        raise NotFound("project", id_or_name)
    return project


async def all_projects(session: AsyncSession) -> list[Project]:
    """Every live project, by name."""
    stmt = repository.projects_query(include_deleted=False).order_by(Project.name)
    return list((await session.scalars(stmt)).all())


async def update_project(
    session: AsyncSession, project_id: str, changes: Mapping[str, object]
) -> Project:
    """Apply ``changes`` (name, description, enabled); 409 if the new name is taken."""
    project = await get_project(session, project_id)
    for field, value in changes.items():
        if field not in PROJECT_FIELDS:
            raise ValueError(f"not a project field: {field}")
        setattr(project, field, value)
    await _flush_unique(
        session, f"a project named {project.name!r} already exists", name=project.name
    )
    return project


async def delete_project(
    session: AsyncSession, project_id: str, counters: list[UsageCounter]
) -> None:
    """Soft-delete an empty project and remove its memberships and API keys.

    The quota row is locked first, so no create in the project can slip in between the count
    and the delete. Any usage a feature reports (quota resources or not) counts as live.
    """
    project = await get_project(session, project_id)
    await lock_quota(session, project_id)
    in_use = {
        name: amount
        for name, amount in (await count_usage(session, project_id, counters)).items()
        if amount > 0
    }
    if in_use:
        raise Conflict(
            f"project {project.name!r} still has live resources", status="in_use", in_use=in_use
        )
    project.mark_deleted(project.id)
    await repository.delete_memberships(session, project_id=project_id)
    await repository.delete_api_keys(session, project_id=project_id)
    await session.flush()


@dataclass(frozen=True, slots=True)
class QuotaView:
    project_id: str
    limits: dict[str, int]
    in_use: dict[str, int]


async def get_quota(
    session: AsyncSession, project_id: str, counters: list[UsageCounter]
) -> QuotaView:
    """The project's limits and its usage counted from live rows."""
    await get_project(session, project_id)
    quota = await session.get(Quota, project_id)
    if quota is None:
        raise NotFound("project", project_id)
    return QuotaView(
        project_id=project_id,
        limits=limits_of(quota),
        in_use=await count_usage(session, project_id, counters),
    )


async def set_quota(
    session: AsyncSession,
    project_id: str,
    limits: Mapping[str, int],
    counters: list[UsageCounter],
) -> QuotaView:
    """Change the given limits and keep the others.

    A limit may be set below the current usage: nothing is removed, new creates are refused.
    """
    await get_project(session, project_id)
    quota = await lock_quota(session, project_id)
    for resource, limit in limits.items():
        setattr(quota, resource, limit)
    await session.flush()
    return QuotaView(
        project_id=project_id,
        limits=limits_of(quota),
        in_use=await count_usage(session, project_id, counters),
    )


# Users


async def create_user(
    session: AsyncSession,
    passwords: PasswordHashing,
    *,
    username: str,
    password: str,
    email: str | None = None,
    is_admin: bool = False,
) -> User:
    """A new enabled user; 409 if the username is taken by a live user."""
    password_hash = await asyncio.to_thread(passwords.hash, password)
    user = User(
        id=new_id(),
        username=username,
        email=email,
        password_hash=password_hash,
        is_admin=is_admin,
        enabled=True,
    )
    session.add(user)
    await _flush_unique(session, f"a user named {username!r} already exists", username=username)
    return user


async def get_user(session: AsyncSession, user_id: str, *, deleted: bool = False) -> User:
    """The user (soft-deleted ones only with ``deleted``); 404 otherwise."""
    user = await repository.get_user(session, user_id, include_deleted=deleted)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def find_user(session: AsyncSession, id_or_username: str) -> User:
    """The live user with this id, else the one with this username; 404 when neither exists."""
    user = await repository.get_user(session, id_or_username)
    if user is None:
        user = await repository.get_live_user_by_username(session, id_or_username)
    if user is None:
        raise NotFound("user", id_or_username)
    return user


async def all_users(session: AsyncSession) -> list[User]:
    """Every live user, by username."""
    stmt = repository.users_query(include_deleted=False).order_by(User.username)
    return list((await session.scalars(stmt)).all())


async def update_user(
    session: AsyncSession,
    passwords: PasswordHashing,
    user_id: str,
    changes: Mapping[str, object],
    *,
    acting_user_id: str | None = None,
) -> User:
    """Apply ``changes`` (email, password, enabled, is_admin).

    The acting admin may not disable themselves or drop their own admin role (409), so an
    admin cannot lock themselves out by accident.
    """
    user = await get_user(session, user_id)
    if user_id == acting_user_id and (
        changes.get("enabled") is False or changes.get("is_admin") is False
    ):
        raise Conflict("you cannot disable yourself or remove your own admin role")
    for field, value in changes.items():
        if field not in USER_FIELDS:
            raise ValueError(f"not a user field: {field}")
        if field == "password":
            user.password_hash = await asyncio.to_thread(passwords.hash, str(value))
        else:
            setattr(user, field, value)
    await session.flush()
    return user


async def delete_user(
    session: AsyncSession, user_id: str, *, acting_user_id: str | None = None
) -> None:
    """Soft-delete a user and remove their memberships and API keys; yourself is 409."""
    if user_id == acting_user_id:
        raise Conflict("you cannot delete yourself")
    user = await get_user(session, user_id)
    user.mark_deleted(user.id)
    await repository.delete_memberships(session, user_id=user_id)
    await repository.delete_api_keys(session, user_id=user_id)
    await session.flush()


# Memberships


async def set_membership(
    session: AsyncSession, project_id: str, user_id: str, role: str
) -> Membership:
    """Give a live user ``role`` in a live project, replacing any role they had there."""
    await get_project(session, project_id)
    await get_user(session, user_id)
    membership = await repository.get_membership(session, project_id, user_id)
    if membership is None:
        membership = Membership(project_id=project_id, user_id=user_id, role=Role(role).value)
        session.add(membership)
    else:
        membership.role = Role(role).value
    await _flush_unique(session, "the membership was changed concurrently; retry")
    return membership


async def remove_membership(session: AsyncSession, project_id: str, user_id: str) -> None:
    """Remove a user's role in a project; 404 when they have none there."""
    await get_project(session, project_id)
    membership = await repository.get_membership(session, project_id, user_id)
    if membership is None:
        raise NotFound("membership", f"of user {user_id} in project {project_id}")
    await session.delete(membership)
    await session.flush()


# API keys


async def create_api_key(
    session: AsyncSession, principal: Principal, *, name: str, expires_at: datetime | None
) -> tuple[ApiKey, NewApiKey]:
    """A key acting as the caller in the caller's project; the secret exists only in the answer."""
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at must be in the future", field="body.expires_at")
    secret = new_api_key()
    key = ApiKey(
        id=new_id(),
        user_id=principal.user_id,
        project_id=principal.project_id,
        name=name,
        prefix=secret.prefix,
        secret_sha256=secret.secret_sha256,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def delete_api_key(session: AsyncSession, principal: Principal, key_id: str) -> None:
    """Revoke one of the caller's own keys (in any project); anyone else's is 404."""
    key = await repository.get_api_key_of_user(session, key_id, principal.user_id)
    if key is None:
        raise NotFound("API key", key_id)
    await session.delete(key)
    await session.flush()
