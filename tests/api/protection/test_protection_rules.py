"""The rules around plans, triggers, scheduled operations and checkpoints: what is refused,
with which error, and that a refusal stores nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.api.protection.protection_factories import (
    BACKUP,
    SNAPSHOT,
    checkpoint_of,
    create_plan,
    create_scheduled_operation,
    create_trigger,
    run,
    server_with_two_volumes,
    show,
    start_plan,
    top_of_next_hour,
    unique,
    volume_plan,
)
from tests.api.storage.storage_factories import available_volume, pool_with_type
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import create_server, new_project_member, set_quota

from cloudplane.kit.clock import utcnow
from cloudplane.operations.models import Operation


async def count(api: ApiSession, path: str) -> int:
    response = await api.get(path, params={"limit": 1000})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_providers_publish_the_schemas_their_parameters_are_checked_against(
    admin: ApiSession,
) -> None:
    providers = (await admin.get("/protection/providers")).json()["items"]
    by_name = {provider["name"]: provider for provider in providers}
    assert set(by_name) == {"backup", "snapshot"}
    backup = by_name["backup"]
    assert backup["id"] == BACKUP
    assert backup["options_schema"]["properties"]["verify_after_protect"]["type"] == "boolean"
    assert "name_prefix" in backup["restore_schema"]["properties"]
    volume = await available_volume(admin)
    plans_before = await count(admin, "/protection/plans")

    refused = await admin.post(
        "/protection/plans",
        json={
            "name": unique("plan"),
            "provider_id": BACKUP,
            "resources": [{"type": "volume", "id": volume["id"]}],
            "parameters": {"verify_after_protect": "sometimes", "colour": "blue"},
        },
    )

    error = assert_error(refused, 422, "validation_error")
    locations = {tuple(entry["loc"]) for entry in error["details"]["errors"]}
    assert ("body", "parameters", "verify_after_protect") in locations
    assert ("body", "parameters", "colour") in locations
    assert await count(admin, "/protection/plans") == plans_before


async def test_a_plan_for_a_missing_resource_or_provider_is_422_and_stores_nothing(
    admin: ApiSession,
) -> None:
    volume = await available_volume(admin)
    before = await count(admin, "/protection/plans")
    missing = await admin.post(
        "/protection/plans",
        json={
            "name": unique("plan"),
            "provider_id": BACKUP,
            "resources": [
                {"type": "volume", "id": volume["id"]},
                {"type": "server", "id": "00000000-0000-4000-8000-000000000000"},
            ],
        },
    )
    error = assert_error(missing, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "resources", "1", "id"]
    unknown_provider = await admin.post(
        "/protection/plans",
        json={
            "name": unique("plan"),
            "provider_id": "not-a-provider",
            "resources": [{"type": "volume", "id": volume["id"]}],
        },
    )
    assert_error(unknown_provider, 422, "validation_error")
    assert await count(admin, "/protection/plans") == before


async def test_a_plan_is_edited_only_while_suspended(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    assert plan["status"] == "suspended"
    renamed = await admin.patch(f"/protection/plans/{plan['id']}", json={"name": "renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "renamed"
    await start_plan(admin, plan["id"])

    refused = await admin.patch(f"/protection/plans/{plan['id']}", json={"name": "again"})

    error = assert_error(refused, 409, "conflict")
    assert error["details"]["status"] == "started"
    assert (await show(admin, f"/protection/plans/{plan['id']}"))["name"] == "renamed"


async def test_a_plan_or_trigger_in_use_cannot_be_deleted_until_its_operation_is(
    admin: ApiSession,
) -> None:
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "0 * * * *", start=top_of_next_hour(utcnow()))
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])

    assert_error(await admin.delete(f"/protection/plans/{plan['id']}"), 409, "conflict")
    assert_error(await admin.delete(f"/protection/triggers/{trigger['id']}"), 409, "conflict")

    gone = await admin.delete(f"/protection/scheduled-operations/{operation['id']}")
    assert gone.status_code == 204
    assert (await admin.delete(f"/protection/triggers/{trigger['id']}")).status_code == 204
    assert (await admin.delete(f"/protection/plans/{plan['id']}")).status_code == 204
    assert_error(await admin.get(f"/protection/plans/{plan['id']}"), 404, "not_found")


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"format": "crontab", "pattern": "every day"}, "pattern"),
        ({"format": "crontab", "pattern": "* * * * *"}, "pattern"),  # below the 300 s minimum
        ({"format": "calendar", "pattern": "FREQ=FORTNIGHTLY"}, "pattern"),
        ({"format": "crontab", "pattern": "*/10 * * * *", "window_s": 900}, "pattern"),
        ({"format": "crontab", "pattern": "0 * * * *", "start_time": "2030-01-01T00:00:00"}, ""),
        (
            {
                "format": "crontab",
                "pattern": "0 * * * *",
                "start_time": "2030-01-02T00:00:00Z",
                "end_time": "2030-01-01T00:00:00Z",
            },
            "",
        ),
    ],
)
async def test_a_trigger_that_does_not_parse_or_fires_too_often_is_422_and_stores_nothing(
    admin: ApiSession, properties: dict[str, object], field: str
) -> None:
    before = await count(admin, "/protection/triggers")

    response = await admin.post(
        "/protection/triggers", json={"name": unique("trigger"), "properties": properties}
    )

    error = assert_error(response, 422, "validation_error")
    if field:
        assert error["details"]["errors"][0]["loc"][-1] == field
    assert await count(admin, "/protection/triggers") == before


async def test_a_scheduled_operation_needs_a_valid_definition(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "0 * * * *", start=top_of_next_hour(utcnow()))
    body = {
        "name": unique("schedule"),
        "operation_type": "retention_protect",
        "trigger_id": trigger["id"],
        "operation_definition": {"plan_id": plan["id"]},
    }
    assert_error(
        await admin.post("/protection/scheduled-operations", json=body), 422, "validation_error"
    )
    body["operation_definition"] = {"plan_id": plan["id"], "max_backups": 0}
    assert_error(
        await admin.post("/protection/scheduled-operations", json=body), 422, "validation_error"
    )
    assert await count(admin, "/protection/scheduled-operations") == 0


async def test_another_projects_protection_resources_are_404(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    checkpoint = await checkpoint_of(admin, plan["id"])
    trigger = await create_trigger(admin, "0 * * * *", start=top_of_next_hour(utcnow()))
    outsider = await new_project_member(admin)

    for path in (
        f"/protection/plans/{plan['id']}",
        f"/protection/checkpoints/{checkpoint['id']}",
        f"/protection/triggers/{trigger['id']}",
    ):
        assert_error(await outsider.get(path), 404, "not_found")
    assert_error(
        await outsider.post("/protection/checkpoints", json={"plan_id": plan["id"]}),
        404,
        "not_found",
    )
    assert_error(
        await outsider.post("/protection/restores", json={"checkpoint_id": checkpoint["id"]}),
        404,
        "not_found",
    )
    assert_error(await outsider.delete(f"/protection/plans/{plan['id']}"), 404, "not_found")
    assert (await outsider.get("/protection/checkpoints")).json()["items"] == []
    foreign_volume = await available_volume(admin)
    refused = await outsider.post(
        "/protection/plans",
        json={
            "name": unique("plan"),
            "provider_id": BACKUP,
            "resources": [{"type": "volume", "id": foreign_volume["id"]}],
        },
    )
    assert_error(refused, 422, "validation_error")


async def test_the_checkpoints_quota_counts_live_checkpoints(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, checkpoints=1)
    plan = await volume_plan(member)
    first = await checkpoint_of(member, plan["id"])

    refused = await member.post("/protection/checkpoints", json={"plan_id": plan["id"]})

    error = assert_error(refused, 409, "quota_exceeded")
    assert (error["details"]["resource"], error["details"]["in_use"]) == ("checkpoints", 1)
    deleted = await member.delete(f"/protection/checkpoints/{first['id']}")
    assert deleted.status_code == 202
    await member.settle()
    assert_error(await member.get(f"/protection/checkpoints/{first['id']}"), 404, "not_found")
    assert (await checkpoint_of(member, plan["id"]))["status"] == "available"
    quotas = (await admin.get(f"/projects/{member.project_id}/quotas")).json()
    assert quotas["in_use"]["checkpoints"] == 1
    assert quotas["in_use"]["plans"] == 1


async def test_the_snapshot_provider_restores_a_volume_from_its_backend_snapshot(
    admin: ApiSession,
) -> None:
    volume = await available_volume(admin, size_gb=2)
    plan = await create_plan(admin, [{"type": "volume", "id": volume["id"]}], provider_id=SNAPSHOT)
    checkpoint = await checkpoint_of(admin, plan["id"])
    assert checkpoint["status"] == "available"

    response = await admin.post("/protection/restores", json={"checkpoint_id": checkpoint["id"]})
    await admin.settle()
    restore = await show(admin, f"/protection/restores/{response.json()['id']}")

    assert restore["status"] == "success", restore
    restored_id = restore["restored_resources"][f"Volume#{volume['id']}"]
    restored = await show(admin, f"/volumes/{restored_id}")
    assert (restored["status"], restored["size_gb"]) == ("available", 2)
    deleted = await admin.delete(f"/protection/checkpoints/{checkpoint['id']}")
    assert deleted.status_code == 202
    await admin.settle()
    verification = await admin.post(
        "/protection/verifications", json={"checkpoint_id": checkpoint["id"]}
    )
    assert_error(verification, 404, "not_found")


async def test_bad_restore_parameters_are_422(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    checkpoint = await checkpoint_of(admin, plan["id"])
    bad = await admin.post(
        "/protection/restores",
        json={"checkpoint_id": checkpoint["id"], "parameters": {"name_prefix": "a/b"}},
    )
    error = assert_error(bad, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "parameters", "name_prefix"]
    assert (await admin.get("/protection/restores")).json()["items"] == []


async def test_protectables_list_types_and_instances_with_their_dependencies(
    admin: ApiSession,
) -> None:
    types = (await admin.get("/protection/protectables")).json()["items"]
    assert {t["type"] for t in types} == {"server", "volume", "image", "network", "project"}
    server_type = next(t for t in types if t["type"] == "server")
    assert set(server_type["dependent_types"]) == {"volume", "image", "network"}
    server, volume_ids = await server_with_two_volumes(admin)

    instances = (await admin.get("/protection/protectables/server/instances")).json()["items"]
    mine = next(item for item in instances if item["id"] == server["id"])
    dependents = {(d["type"], d["id"]) for d in mine["dependent_resources"]}
    assert {("volume", v) for v in volume_ids} <= dependents
    assert ("image", server["image_id"]) in dependents
    project = (await admin.get("/protection/protectables/project/instances")).json()["items"]
    assert [p["id"] for p in project] == [admin.project_id]
    assert ("server", server["id"]) in {
        (d["type"], d["id"]) for d in project[0]["dependent_resources"]
    }


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_racing_plan_creates_with_one_name_give_one_201_and_the_rest_409(
    admin: ApiSession,
) -> None:
    volume = await available_volume(admin)
    body = {
        "name": "contested-plan",
        "provider_id": BACKUP,
        "resources": [{"type": "volume", "id": volume["id"]}],
    }

    responses = await asyncio.gather(
        *(admin.post("/protection/plans", json=body) for _ in range(8))
    )

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 7}, [
        r.text for r in responses if r.status_code >= 500
    ]
    listed = await admin.get("/protection/plans", params={"name": "contested-plan"})
    assert len(listed.json()["items"]) == 1


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_racing_checkpoint_creates_stop_at_the_quota(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, checkpoints=3)
    plan = await volume_plan(member)

    responses = await asyncio.gather(
        *(member.post("/protection/checkpoints", json={"plan_id": plan["id"]}) for _ in range(8))
    )
    await member.settle()

    assert Counter(r.status_code for r in responses) == {202: 3, 409: 5}
    listed = (await member.get("/protection/checkpoints")).json()["items"]
    assert [c["status"] for c in listed] == ["available"] * 3


async def test_editing_a_trigger_moves_the_next_firing_of_its_operations(
    admin: ApiSession,
) -> None:
    start = top_of_next_hour(utcnow())
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "0 * * * *", start=start)
    operation = await create_scheduled_operation(admin, plan["id"], trigger["id"])
    await start_plan(admin, plan["id"])

    later = start + timedelta(hours=5)
    edited = await admin.patch(
        f"/protection/triggers/{trigger['id']}",
        json={
            "properties": {
                "format": "crontab",
                "pattern": "30 * * * *",
                "start_time": later.isoformat(),
            }
        },
    )

    assert edited.status_code == 200, edited.text
    shown = await show(admin, f"/protection/scheduled-operations/{operation['id']}")
    expected = (later + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert shown["next_run_at"].startswith(expected)


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_checkpoint_deleted_while_restores_are_requested_is_never_both(
    admin: ApiSession,
) -> None:
    plan = await volume_plan(admin)
    checkpoint = await checkpoint_of(admin, plan["id"])

    answers = await asyncio.gather(
        admin.delete(f"/protection/checkpoints/{checkpoint['id']}"),
        *(
            admin.post("/protection/restores", json={"checkpoint_id": checkpoint["id"]})
            for _ in range(4)
        ),
    )
    await admin.settle()

    deleted, restores = answers[0], answers[1:]
    # A restore that arrives once the delete has finished finds no checkpoint at all (404).
    assert deleted.status_code in (202, 409), deleted.text
    assert all(r.status_code in (202, 404, 409) for r in restores), [r.text for r in restores]
    accepted = [r for r in restores if r.status_code == 202]
    if deleted.status_code == 202:
        assert accepted == []
    else:
        assert_error(deleted, 409, "conflict")
        assert accepted
    for response in accepted:
        restore = await show(admin, f"/protection/restores/{response.json()['id']}")
        assert restore["status"] == "success", restore


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_plan_deleted_while_an_operation_is_scheduled_on_it_is_never_both(
    admin: ApiSession,
) -> None:
    plan = await volume_plan(admin)
    trigger = await create_trigger(admin, "0 * * * *", start=top_of_next_hour(utcnow()))
    body = {
        "name": unique("schedule"),
        "operation_type": "protect",
        "trigger_id": trigger["id"],
        "operation_definition": {"plan_id": plan["id"]},
    }

    deleted, scheduled = await asyncio.gather(
        admin.delete(f"/protection/plans/{plan['id']}"),
        admin.post("/protection/scheduled-operations", json=body),
    )

    if deleted.status_code == 204:
        assert_error(scheduled, 404, "not_found")
        assert await count(admin, "/protection/scheduled-operations") == 0
    else:
        assert_error(deleted, 409, "conflict")
        assert scheduled.status_code == 201, scheduled.text
        assert (await show(admin, f"/protection/plans/{plan['id']}"))["id"] == plan["id"]


async def test_protection_requests_are_audited_with_their_collection_and_action(
    admin: ApiSession,
) -> None:
    plan = await volume_plan(admin)
    await start_plan(admin, plan["id"])

    events = (await admin.get("/audit-events", params={"resource_id": plan["id"]})).json()
    described = {(e["resource_type"], e["action"]) for e in events["items"]}

    assert {("protection.plans", "create"), ("protection.plans", "start")} <= described


async def test_restored_volumes_keep_their_type_unless_the_restore_names_another(
    admin: ApiSession, tmp_path: Path
) -> None:
    _, own_type = await pool_with_type(admin, tmp_path / "pool-a", capacity_gb=20)
    _, other_type = await pool_with_type(admin, tmp_path / "pool-b", capacity_gb=20)
    volume = await available_volume(admin, volume_type=own_type["name"])
    plan = await create_plan(admin, [{"type": "volume", "id": volume["id"]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    restored_types = []
    for parameters in ({}, {"volume_type": other_type["name"]}):
        response = await admin.post(
            "/protection/restores",
            json={"checkpoint_id": checkpoint["id"], "parameters": parameters},
        )
        await admin.settle()
        restore = await show(admin, f"/protection/restores/{response.json()['id']}")
        restored = restore["restored_resources"][f"Volume#{volume['id']}"]
        restored_types.append((await show(admin, f"/volumes/{restored}"))["volume_type"])

    assert restored_types == [own_type["name"], other_type["name"]]


async def test_protection_operations_get_the_longer_protection_deadline(admin: ApiSession) -> None:
    plan = await volume_plan(admin)
    checkpoint = await checkpoint_of(admin, plan["id"])
    restore = await run(admin, "/protection/restores", {"checkpoint_id": checkpoint["id"]})
    server = await create_server(admin)
    settings = admin.runtime.settings
    assert settings.protection_deadline_s > settings.operation_deadline_s

    async with admin.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(Operation.resource_id, Operation.created_at, Operation.deadline_at).where(
                    Operation.resource_id.in_([checkpoint["id"], restore["id"], server["id"]])
                )
            )
        ).all()
    allowed_s = {
        resource_id: (deadline_at - created_at).total_seconds()
        for resource_id, created_at, deadline_at in rows
    }
    assert allowed_s[checkpoint["id"]] == settings.protection_deadline_s
    assert allowed_s[restore["id"]] == settings.protection_deadline_s
    assert allowed_s[server["id"]] == settings.operation_deadline_s
