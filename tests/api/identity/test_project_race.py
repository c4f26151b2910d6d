"""Racing creates meet at the database's unique constraint, on every engine."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES

RACERS = 20


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_twenty_concurrent_creates_of_one_project_name_give_one_201_and_nineteen_409(
    admin: ApiSession,
) -> None:
    responses = await asyncio.gather(
        *(admin.post("/projects", json={"name": "contested"}) for _ in range(RACERS))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: RACERS - 1}, [
        r.text for r in responses if r.status_code >= 500
    ]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "conflict")
    listed = (await admin.get("/projects", params={"name": "contested"})).json()["items"]
    assert len(listed) == 1
    quota = await admin.get(f"/projects/{listed[0]['id']}/quotas")
    assert quota.status_code == 200
