"""``cloudplane admin …``: manage users, projects and memberships directly in the database.

These commands work without a running API (first set-up, a forgotten admin password): they
read ``CLOUDPLANE_*`` settings, open the database, and apply the identity service's rules in one
transaction per command. They neither migrate the schema nor start a driver; run
``cloudplane migrate`` first. An API process that caches credential lookups notices a changed
role or password within its ``auth_cache_ttl_s``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from cloudplane.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from cloudplane.identity.passwords import PasswordHashing

# The database side (SQLAlchemy, the identity service) is imported inside the commands: the
# `cloudplane` tool loads this module for every command, and the HTTP client should start fast.

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

admin_app = typer.Typer(
    help="Administer users and projects directly in the database (no API needed).",
    no_args_is_help=True,
)


class MemberRole(enum.StrEnum):
    member = "member"
    reader = "reader"


PasswordOption = Annotated[
    str | None,
    typer.Option(help="The password (asked for, hidden and twice, if left out)."),
]
ProjectArg = Annotated[str, typer.Argument(help="The project's id or name.")]
UserArg = Annotated[str, typer.Argument(help="The user's id or username.")]


@dataclass(frozen=True, slots=True)
class Database:
    sessions: async_sessionmaker[AsyncSession]
    passwords: PasswordHashing


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """Only what these commands need: an engine, sessions and the password hasher."""
    from cloudplane.identity.passwords import PasswordHashing
    from cloudplane.kit.db import create_engine, session_factory

    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        yield Database(
            sessions=session_factory(engine),
            passwords=PasswordHashing(
                time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
            ),
        )
    finally:
        await engine.dispose()


def run_in_transaction(
    work: Callable[[AsyncSession, Database], Awaitable[T]], *, write: bool = True
) -> T:
    """Run ``work`` in one committed transaction; an ``ApiError`` exits with status 1."""
    from cloudplane.kit.db import unit_of_work
    from cloudplane.kit.errors import ApiError

    async def _main() -> T:
        async with (
            open_database(Settings()) as database,
            unit_of_work(database.sessions, write=write) as session,
        ):
            return await work(session, database)

    try:
        return asyncio.run(_main())
    except ApiError as exc:
        typer.echo(f"Error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from exc


def validated(model: type[M], **fields: object) -> M:
    """``fields`` checked by the API's own body rules; a breach exits with status 2."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "input"
            typer.echo(f"Error (validation_error): {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc


def ask_password(given: str | None) -> str:
    if given is not None:
        return given
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Tab-separated, one row per line, so the output pipes well into ``cut`` and ``grep``."""
    typer.echo("\t".join(headers))
    for row in rows:
        typer.echo("\t".join("" if cell is None else str(cell) for cell in row))


@admin_app.command("user-create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name: a-z, 0-9, '.', '_', '-'.")],
    password: PasswordOption = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make them a global admin.")] = False,
    email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
) -> None:
    """Create a user."""
    from cloudplane.identity import service
    from cloudplane.identity.schemas import UserCreate

    body = validated(
        UserCreate, username=username, password=ask_password(password), email=email, is_admin=admin
    )

    async def work(session: AsyncSession, database: Database) -> str:
        user = await service.create_user(
            session,
            database.passwords,
            username=body.username,
            password=body.password,
            email=body.email,
            is_admin=body.is_admin,
        )
        return user.id

    user_id = run_in_transaction(work)
    typer.echo(f"Created user {body.username} ({user_id}).")


@admin_app.command("project-create")
def project_create(
    name: Annotated[str, typer.Argument(help="Name of the new project.")],
    description: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Create a project with the default quota."""
    from cloudplane.identity import service
    from cloudplane.identity.schemas import ProjectCreate

    body = validated(ProjectCreate, name=name, description=description)

    async def work(session: AsyncSession, _database: Database) -> str:
        project = await service.create_project(
            session, name=body.name, description=body.description
        )
        return project.id

    project_id = run_in_transaction(work)
    typer.echo(f"Created project {body.name} ({project_id}).")


@admin_app.command("member-add")
def member_add(
    project: ProjectArg,
    user: UserArg,
    role: Annotated[MemberRole, typer.Option("--role", help="member (read/write) or reader.")],
) -> None:
    """Give a user a role in a project, replacing the role they had there."""
    from cloudplane.identity import service

    async def work(session: AsyncSession, _database: Database) -> None:
        found_project = await service.find_project(session, project)
        found_user = await service.find_user(session, user)
        await service.set_membership(session, found_project.id, found_user.id, role.value)

    run_in_transaction(work)
    typer.echo(f"{user} is now {role.value} in project {project}.")


@admin_app.command("member-remove")
def member_remove(project: ProjectArg, user: UserArg) -> None:
    """Take a user's role in a project away."""
    from cloudplane.identity import service

    async def work(session: AsyncSession, _database: Database) -> None:
        found_project = await service.find_project(session, project)
        found_user = await service.find_user(session, user)
        await service.remove_membership(session, found_project.id, found_user.id)

    run_in_transaction(work)
    typer.echo(f"{user} is no longer a member of project {project}.")


@admin_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="The user's username (or id).")],
    password: PasswordOption = None,
) -> None:
    """Set a user's password."""
    from cloudplane.identity import service
    from cloudplane.identity.schemas import UserUpdate

    body = validated(UserUpdate, password=ask_password(password))

    async def work(session: AsyncSession, database: Database) -> None:
        user = await service.find_user(session, username)
        await service.update_user(session, database.passwords, user.id, body.changes())

    run_in_transaction(work)
    typer.echo(f"Password of {username} changed.")


@admin_app.command("user-list")
def user_list() -> None:
    """List live users by username."""
    from cloudplane.identity import service

    async def work(session: AsyncSession, _database: Database) -> list[list[object]]:
        users = await service.all_users(session)
        return [[u.id, u.username, u.email, u.is_admin, u.enabled] for u in users]

    print_table(
        ["ID", "USERNAME", "EMAIL", "ADMIN", "ENABLED"], run_in_transaction(work, write=False)
    )


@admin_app.command("project-list")
def project_list() -> None:
    """List live projects by name."""
    from cloudplane.identity import service

    async def work(session: AsyncSession, _database: Database) -> list[list[object]]:
        projects = await service.all_projects(session)
        return [[p.id, p.name, p.enabled, p.description] for p in projects]

    print_table(["ID", "NAME", "ENABLED", "DESCRIPTION"], run_in_transaction(work, write=False))
