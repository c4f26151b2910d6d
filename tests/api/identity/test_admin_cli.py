"""``cloudplane admin …`` against a real, migrated SQLite database, without the API running.

The commands call ``asyncio.run`` themselves, so they run in a worker thread here, away from
the test's own event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.support.api import login
from typer.testing import CliRunner, Result

from cloudplane.app import create_app
from cloudplane.cli.admin import admin_app
from cloudplane.identity.models import Membership, Quota, User
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.kit.db import create_engine, session_factory
from cloudplane.kit.migrate import upgrade_to_head
from cloudplane.settings import Settings


class AdminCli:
    """Runs admin commands with the environment that points them at one database."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = f"sqlite+aiosqlite:///{data_dir / 'cloudplane.db'}"
        self.env = {
            "CLOUDPLANE_DATA_DIR": str(data_dir),
            "CLOUDPLANE_DATABASE_URL": self.url,
            "CLOUDPLANE_ARGON2_TIME_COST": "1",
            "CLOUDPLANE_ARGON2_MEMORY_KIB": "32",
        }
        self._runner = CliRunner()

    async def __call__(self, *args: str, stdin: str | None = None) -> Result:
        def invoke() -> Result:
            return self._runner.invoke(admin_app, list(args), input=stdin, env=self.env)

        return await asyncio.to_thread(invoke)

    async def ok(self, *args: str, stdin: str | None = None) -> str:
        result = await self(*args, stdin=stdin)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout


@pytest.fixture
async def cli(tmp_path: Path) -> AdminCli:
    admin_cli = AdminCli(tmp_path / "var")
    admin_cli.data_dir.mkdir()
    engine = create_engine(admin_cli.url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    return admin_cli


async def fetch_users(cli: AdminCli) -> dict[str, User]:
    engine = create_engine(cli.url)
    try:
        async with session_factory(engine)() as session:
            return {u.username: u for u in (await session.scalars(select(User))).all()}
    finally:
        await engine.dispose()


async def fetch_memberships(cli: AdminCli) -> list[tuple[str, str, str]]:
    engine = create_engine(cli.url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.scalars(select(Membership))).all()
            return [(m.project_id, m.user_id, m.role) for m in rows]
    finally:
        await engine.dispose()


async def test_admin_cli_creates_users_and_projects_and_lists_them(cli: AdminCli) -> None:
    created = await cli.ok(
        "user-create", "carol", "--password", "carols-password", "--admin", "--email", "c@x.org"
    )
    await cli.ok("user-create", "dave", "--password", "daves-password")
    project = await cli.ok("project-create", "research", "--description", "Lab machines")

    users = (await cli.ok("user-list")).splitlines()
    projects = (await cli.ok("project-list")).splitlines()

    assert created.startswith("Created user carol (")
    assert project.startswith("Created project research (")
    assert users[0].split("\t") == ["ID", "USERNAME", "EMAIL", "ADMIN", "ENABLED"]
    assert [line.split("\t")[1:] for line in users[1:]] == [
        ["carol", "c@x.org", "True", "True"],
        ["dave", "", "False", "True"],
    ]
    assert [line.split("\t")[1:] for line in projects[1:]] == [["research", "True", "Lab machines"]]


async def test_admin_cli_project_create_makes_the_quota_row(cli: AdminCli) -> None:
    output = await cli.ok("project-create", "quota-check")
    project_id = output.strip().rsplit("(", 1)[1].rstrip(").")

    engine = create_engine(cli.url)
    try:
        async with session_factory(engine)() as session:
            assert await session.get(Quota, project_id) is not None
    finally:
        await engine.dispose()


async def test_admin_cli_adds_and_removes_members_by_name_or_id(cli: AdminCli) -> None:
    await cli.ok("user-create", "erin", "--password", "erins-password")
    await cli.ok("project-create", "ops")
    user_id = (await fetch_users(cli))["erin"].id

    await cli.ok("member-add", "ops", "erin", "--role", "reader")
    await cli.ok("member-add", "ops", user_id, "--role", "member")
    memberships = await fetch_memberships(cli)
    await cli.ok("member-remove", "ops", "erin")

    assert [(user, role) for _, user, role in memberships] == [(user_id, "member")]
    assert await fetch_memberships(cli) == []


async def test_admin_cli_prompts_for_a_password_left_out(cli: AdminCli) -> None:
    await cli.ok("user-create", "frank", stdin="franks-password\nfranks-password\n")

    frank = (await fetch_users(cli))["frank"]

    assert PasswordHashing(time_cost=1, memory_kib=32).verify(
        frank.password_hash, "franks-password"
    )


async def test_admin_cli_resets_a_password(cli: AdminCli) -> None:
    await cli.ok("user-create", "gina", "--password", "old-password")

    await cli.ok("reset-password", "gina", "--password", "new-password")

    gina = (await fetch_users(cli))["gina"]
    hashing = PasswordHashing(time_cost=1, memory_kib=32)
    assert hashing.verify(gina.password_hash, "new-password")
    assert not hashing.verify(gina.password_hash, "old-password")


async def test_admin_cli_reports_rule_breaches_with_a_failing_exit_status(cli: AdminCli) -> None:
    await cli.ok("user-create", "hank", "--password", "hanks-password")

    taken = await cli("user-create", "hank", "--password", "other-password")
    bad_name = await cli("user-create", "Not Valid", "--password", "long-enough")
    short = await cli("reset-password", "hank", "--password", "short")
    unknown = await cli("member-add", "no-such-project", "hank", "--role", "member")
    bad_role = await cli("member-add", "p", "hank", "--role", "owner")

    assert taken.exit_code == 1
    assert taken.stderr.startswith("Error (conflict):")
    assert bad_name.exit_code == 2
    assert "username" in bad_name.stderr
    assert short.exit_code == 2
    assert "password" in short.stderr
    assert unknown.exit_code == 1
    assert "not_found" in unknown.stderr
    assert bad_role.exit_code == 2


async def test_a_user_made_by_the_admin_cli_can_log_in_through_the_api(cli: AdminCli) -> None:
    await cli.ok("user-create", "ivy", "--password", "ivys-password")
    await cli.ok("project-create", "garden")
    await cli.ok("member-add", "garden", "ivy", "--role", "member")
    settings = Settings(
        data_dir=cli.data_dir,
        database_url=cli.url,
        auto_migrate=False,
        auth_cache_ttl_s=0,
        argon2_time_cost=1,
        argon2_memory_kib=32,
        run_scheduler=False,
        log_level="WARNING",
    )
    app = create_app(settings)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cli.test") as client:
            ivy = await login(client, app.state.runtime, "ivy", "ivys-password")
            whoami = (await ivy.get("/auth/whoami")).json()

    assert whoami["project"]["name"] == "garden"
    assert whoami["roles"] == ["member"]
