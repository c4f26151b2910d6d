"""Scheduled operations fire under a controlled clock: ``fire_due_operations`` is given ``now``.

Triggers start at a whole hour in the future, so the real clock never reaches them; the test
moves its own clock through the firings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.protection.protection_factories import (
    checkpoint_of,
    checkpoints_of,
    create_scheduled_operation,
    create_trigger,
    logs_of,
    show,
    start_plan,
    top_of_next_hour,
    volume_plan,
)
from tests.support.api import ApiSession
from tests.support.factories import new_project_member, set_quota

from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.protection.checkpoint_service import prune
from cloudplane.protection.providers import backup_store
from cloudplane.protection.scheduling import fire_due_operations


async def test_a_crontab_firing_runs_once_within_its_window_and_a_late_one_is_logged_dropped(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "*/10 * * * *", start=start, window_s=120)
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])
    assert operation["next_run_at"] is None  # the plan is still suspended
    await start_plan(admin, plan["id"])
    shown = await show(admin, f"/protection/scheduled-operations/{operation['id']}")
    assert shown["next_run_at"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))

    assert await fire_due_operations(admin.runtime, start - timedelta(seconds=1)) == []
    first = await fire_due_operations(admin.runtime, start + timedelta(seconds=30))
    again = await fire_due_operations(admin.runtime, start + timedelta(seconds=31))
    await admin.settle()

    assert [(f.due, f.ran_at, f.dropped) for f in first] == [(start, start, 0)]
    assert again == []
    checkpoints = await checkpoints_of(admin, plan["id"])
    assert [(c["created_by"], c["status"]) for c in checkpoints] == [("scheduled", "available")]

    # 5 minutes after the 00:10 firing is past its 2-minute window: logged, not run.
    late = await fire_due_operations(admin.runtime, start + timedelta(minutes=15))
    await admin.settle()
    assert [(f.due, f.ran_at, f.dropped) for f in late] == [
        (start + timedelta(minutes=10), None, 1)
    ]
    assert len(await checkpoints_of(admin, plan["id"])) == 1

    on_time = await fire_due_operations(admin.runtime, start + timedelta(minutes=20, seconds=5))
    await admin.settle()
    assert [f.ran_at for f in on_time] == [start + timedelta(minutes=20)]
    logs = await logs_of(admin, operation["id"])
    assert [(entry["status"], entry["scheduled_for"][:19]) for entry in logs] == [
        ("success", start.strftime("%Y-%m-%dT%H:%M:%S")),
        ("dropped", (start + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")),
        ("success", (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S")),
    ]
    assert "window" in logs[1]["error_info"]


async def test_several_missed_firings_are_each_logged_and_the_one_in_its_window_runs(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "*/10 * * * *", start=start, window_s=300)
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])
    await start_plan(admin, plan["id"])

    # Down from 00:00 to 00:32: 00:00, 00:10, 00:20 are beyond 5 minutes; 00:30 is within.
    fired = await fire_due_operations(admin.runtime, start + timedelta(minutes=32))
    await admin.settle()

    assert [(f.ran_at, f.dropped) for f in fired] == [(start + timedelta(minutes=30), 3)]
    statuses = [entry["status"] for entry in await logs_of(admin, operation["id"])]
    assert sorted(statuses) == ["dropped", "dropped", "dropped", "success"]
    shown = await show(admin, f"/protection/scheduled-operations/{operation['id']}")
    assert shown["next_run_at"].startswith(
        (start + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%S")
    )


async def test_a_calendar_rule_fires_until_its_end_time_and_then_never_again(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(
        admin,
        "BEGIN:VEVENT\nRRULE:FREQ=HOURLY;INTERVAL=1\nEND:VEVENT",
        fmt="calendar",
        start=start,
        end=start + timedelta(hours=2),
        window_s=600,
    )
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])
    await start_plan(admin, plan["id"])

    ran = []
    for hour in range(5):
        fired = await fire_due_operations(admin.runtime, start + timedelta(hours=hour, minutes=1))
        ran += [f.ran_at for f in fired]
        await admin.settle()

    assert ran == [start, start + timedelta(hours=1), start + timedelta(hours=2)]
    shown = await show(admin, f"/protection/scheduled-operations/{operation['id']}")
    assert shown["next_run_at"] is None
    assert len(await checkpoints_of(admin, plan["id"])) == 3


async def test_a_suspended_plan_does_not_fire_and_fires_again_once_started(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "0 * * * *", start=start, window_s=600)
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])
    await start_plan(admin, plan["id"])
    suspended = await admin.post(f"/protection/plans/{plan['id']}/suspend")
    assert suspended.json()["status"] == "suspended"

    assert await fire_due_operations(admin.runtime, start + timedelta(minutes=1)) == []
    assert await logs_of(admin, operation["id"]) == []

    await start_plan(admin, plan["id"])
    fired = await fire_due_operations(admin.runtime, start + timedelta(minutes=1))
    await admin.settle()
    assert [f.ran_at for f in fired] == [start]


async def test_retention_protect_keeps_the_newest_max_backups_and_deletes_the_rest(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "*/10 * * * *", start=start, window_s=120)
    await create_scheduled_operation(
        admin, plan["id"], trigger["id"], operation_type="retention_protect", max_backups=2
    )
    await start_plan(admin, plan["id"])
    made = []
    for firing in range(4):
        fired = await fire_due_operations(admin.runtime, start + timedelta(minutes=10 * firing))
        made += [f.checkpoint_id for f in fired]
        await admin.settle()

    assert len(made) == 4
    live = await checkpoints_of(admin, plan["id"])
    assert [c["id"] for c in live] == made[2:]
    assert {c["status"] for c in live} == {"available"}
    store = backup_store(admin.runtime.settings)
    assert not (store / str(made[0])).exists()
    assert not (store / str(made[1])).exists()
    assert (store / str(made[3])).is_dir()
    gone = await admin.get(f"/protection/checkpoints/{made[0]}", params={"deleted": "true"})
    assert gone.json()["status"] == "deleted"


async def test_a_firing_refused_by_the_quota_is_logged_failed_and_the_next_one_still_runs(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, checkpoints=1)
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(member)
    trigger = await create_trigger(member, "*/10 * * * *", start=start, window_s=120)
    operation = await create_scheduled_operation(member, plan["id"], trigger["id"])
    await start_plan(member, plan["id"])

    ran = await fire_due_operations(member.runtime, start)
    refused = await fire_due_operations(member.runtime, start + timedelta(minutes=10))
    await member.settle()

    assert [f.error for f in ran] == [None]
    assert [f.checkpoint_id for f in refused] == [None]
    assert "quota" in str(refused[0].error)
    logs = await logs_of(member, operation["id"])
    assert [entry["status"] for entry in logs] == ["success", "fail"]
    shown = await show(member, f"/protection/scheduled-operations/{operation['id']}")
    assert shown["next_run_at"].startswith(
        (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S")
    )


async def test_retention_days_prunes_checkpoints_older_than_the_limit(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    old = await checkpoint_of(admin, plan["id"])
    recent = await checkpoint_of(admin, plan["id"])
    principal = Principal(
        user_id=admin.user_id,
        username="admin",
        project_id=admin.project_id,
        roles=frozenset({Role.MEMBER}),
    )
    # Eight days on, the first is older than a week; the second was made a moment later.
    eight_days_on = datetime.fromisoformat(old["created_at"]) + timedelta(days=7, microseconds=1)

    async with unit_of_work(admin.runtime.sessions, write=True) as session:
        pruned = await prune(
            session,
            admin.runtime,
            principal,
            plan["id"],
            max_backups=None,
            retention_days=7,
            now=eight_days_on,
        )
    await admin.settle()

    assert pruned == [old["id"]]
    assert [c["id"] for c in await checkpoints_of(admin, plan["id"])] == [recent["id"]]
