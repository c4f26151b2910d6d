"""Every mutating request leaves an audit record, whatever its outcome."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiSession
from tests.support.factories import create_server, new_project_member


async def _events(api: ApiSession, **params: str) -> list[dict[str, Any]]:
    body = (await api.get("/audit-events", params={"limit": 1000, **params})).json()
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_a_create_is_recorded_with_the_new_resource_and_the_request_id(
    admin: ApiSession,
) -> None:
    response = await admin.post(
        "/servers",
        json={"name": "audited", **await _catalogue(admin)},
        headers={"X-Request-ID": "audit-me-1"},
    )
    server_id = response.json()["id"]
    events = await _events(admin, resource_id=server_id)
    assert len(events) == 1
    event = events[0]
    assert event["action"] == "create"
    assert event["resource_type"] == "servers"
    assert event["method"] == "POST"
    assert event["path"] == "/api/v1/servers"
    assert event["outcome"] == "success"
    assert event["status_code"] == 202
    assert event["request_id"] == "audit-me-1"
    assert event["user_id"] == admin.user_id
    assert event["project_id"] == admin.project_id
    await admin.settle()


async def test_actions_and_failures_are_recorded_too(admin: ApiSession) -> None:
    server = await create_server(admin)
    await admin.settle()
    await admin.post(f"/servers/{server['id']}/stop")
    await admin.settle()
    await admin.post(f"/servers/{server['id']}/resume")  # 409: SHUTOFF cannot resume
    events = await _events(admin, resource_id=server["id"])
    summary = sorted((e["action"], e["outcome"], e["status_code"]) for e in events)
    assert summary == [
        ("create", "success", 202),
        ("resume", "failure", 409),
        ("stop", "success", 202),
    ]


async def test_reads_are_not_recorded(admin: ApiSession) -> None:
    before = len(await _events(admin))
    await admin.get("/servers")
    await admin.get("/flavors")
    assert len(await _events(admin)) == before


async def test_members_see_their_project_only_and_admins_see_all(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    server = await create_server(member)
    await member.settle()
    own = await _events(member)
    assert {e["project_id"] for e in own} == {member.project_id}
    assert server["id"] in {e["resource_id"] for e in own}
    everything = await _events(admin)
    assert member.project_id in {e["project_id"] for e in everything}
    assert admin.project_id in {e["project_id"] for e in everything}


async def test_an_unauthenticated_write_is_recorded_as_a_failure(admin: ApiSession) -> None:
    await admin.client.post("/api/v1/servers", json={})
    events = await _events(admin, outcome="failure")
    assert any(e["status_code"] == 401 and e["user_id"] is None for e in events)


async def _catalogue(api: ApiSession) -> dict[str, str]:
    flavors = (await api.get("/flavors", params={"name": "m1.tiny"})).json()["items"]
    images = (await api.get("/images", params={"name": "tiny"})).json()["items"]
    return {"flavor_id": flavors[0]["id"], "image_id": images[0]["id"]}
