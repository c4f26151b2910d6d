"""Identity queries: lookups, the filtered list statements, and bulk removals.

No rules live here: callers decide who may see what and pass it in (for instance the
``member_user_id`` that narrows a project list to one user's projects).
"""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.models import ApiKey, Membership, Project, User
from cloudplane.kit.db import LIVE
from cloudplane.kit.pagination import starts_with


async def get_user(
    session: AsyncSession, user_id: str, *, include_deleted: bool = False
) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if not include_deleted:
        stmt = stmt.where(User.deleted_key == LIVE)
    return await session.scalar(stmt)


async def get_live_user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(
        select(User).where(User.username == username, User.deleted_key == LIVE)
    )


async def get_project(
    session: AsyncSession, project_id: str, *, include_deleted: bool = False
) -> Project | None:
    stmt = select(Project).where(Project.id == project_id)
    if not include_deleted:
        stmt = stmt.where(Project.deleted_key == LIVE)
    return await session.scalar(stmt)


async def get_live_project_by_name(session: AsyncSession, name: str) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.name == name, Project.deleted_key == LIVE)
    )


async def oldest_membership_project_id(session: AsyncSession, user_id: str) -> str | None:
    """The live, enabled project of the user's oldest membership (ties broken by name)."""
    return await session.scalar(
        select(Membership.project_id)
        .join(Project, Project.id == Membership.project_id)
        .where(
            Membership.user_id == user_id,
            Project.deleted_key == LIVE,
            Project.enabled.is_(True),
        )
        .order_by(Membership.created_at, Project.name)
        .limit(1)
    )


async def first_project_id_by_name(session: AsyncSession) -> str | None:
    """The first live, enabled project in name order."""
    return await session.scalar(
        select(Project.id)
        .where(Project.deleted_key == LIVE, Project.enabled.is_(True))
        .order_by(Project.name)
        .limit(1)
    )


def projects_query(
    *,
    include_deleted: bool,
    member_user_id: str | None = None,
    name: str | None = None,
    name_prefix: str | None = None,
    enabled: bool | None = None,
) -> Select[Project]:
    """Projects matching every given filter; ``member_user_id`` keeps that user's projects."""
    stmt = select(Project)
    if not include_deleted:
        stmt = stmt.where(Project.deleted_key == LIVE)
    if member_user_id is not None:
        stmt = stmt.where(
            Project.id.in_(
                select(Membership.project_id).where(Membership.user_id == member_user_id)
            )
        )
    if name is not None:
        stmt = stmt.where(Project.name == name)
    if name_prefix is not None:
        stmt = stmt.where(starts_with(Project.name, name_prefix))
    if enabled is not None:
        stmt = stmt.where(Project.enabled.is_(enabled))
    return stmt


def users_query(
    *,
    include_deleted: bool,
    username: str | None = None,
    username_prefix: str | None = None,
    is_admin: bool | None = None,
    enabled: bool | None = None,
) -> Select[User]:
    """Users matching every given filter."""
    stmt = select(User)
    if not include_deleted:
        stmt = stmt.where(User.deleted_key == LIVE)
    if username is not None:
        stmt = stmt.where(User.username == username)
    if username_prefix is not None:
        stmt = stmt.where(starts_with(User.username, username_prefix))
    if is_admin is not None:
        stmt = stmt.where(User.is_admin.is_(is_admin))
    if enabled is not None:
        stmt = stmt.where(User.enabled.is_(enabled))
    return stmt


def members_query(project_id: str, *, role: str | None = None) -> Select[Membership]:
    """The memberships of live users in one project."""
    stmt = (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id, User.deleted_key == LIVE)
    )
    if role is not None:
        stmt = stmt.where(Membership.role == role)
    return stmt


async def get_membership(session: AsyncSession, project_id: str, user_id: str) -> Membership | None:
    return await session.get(Membership, (project_id, user_id))


async def delete_memberships(
    session: AsyncSession, *, project_id: str | None = None, user_id: str | None = None
) -> None:
    """Remove the memberships of a project or of a user (at least one must be given)."""
    stmt = delete(Membership)
    if project_id is not None:
        stmt = stmt.where(Membership.project_id == project_id)
    if user_id is not None:
        stmt = stmt.where(Membership.user_id == user_id)
    if project_id is None and user_id is None:
        raise ValueError("refusing to delete every membership")
    await session.execute(stmt)


def api_keys_query(user_id: str, project_id: str) -> Select[ApiKey]:
    """One user's keys in one project."""
    return select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.project_id == project_id)


async def get_api_key_of_user(session: AsyncSession, key_id: str, user_id: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    )


async def delete_api_keys(
    session: AsyncSession, *, project_id: str | None = None, user_id: str | None = None
) -> None:
    """Remove the API keys of a project or of a user (at least one must be given)."""
    stmt = delete(ApiKey)
    if project_id is not None:
        stmt = stmt.where(ApiKey.project_id == project_id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    if project_id is None and user_id is None:
        raise ValueError("refusing to delete every API key")
    await session.execute(stmt)
