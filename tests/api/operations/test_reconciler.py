"""The reconciler repairs the database when the hypervisor disagrees with it."""

from __future__ import annotations

from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.compute.reconciler import reconcile_servers
from cloudplane.drivers.base import PowerState
from cloudplane.drivers.simulator import SimulatorDriver


def _simulator(admin: ApiSession) -> SimulatorDriver:
    driver = admin.runtime.driver
    assert isinstance(driver, SimulatorDriver)
    return driver


async def test_a_server_stopped_behind_our_back_shows_shutoff(admin: ApiSession) -> None:
    server = await active_server(admin)
    await _simulator(admin).set_power_state(server["id"], PowerState.SHUTDOWN)
    assert await reconcile_servers(admin.runtime) == 1
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"]) == ("SHUTOFF", "shutdown")


async def test_a_server_that_vanished_shows_error_with_a_fault(admin: ApiSession) -> None:
    server = await active_server(admin)
    await _simulator(admin).forget_server(server["id"])
    assert await reconcile_servers(admin.runtime) == 1
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert shown["power_state"] == "nostate"
    assert shown["fault"]["code"] == "vanished"
    assert await reconcile_servers(admin.runtime) == 0


async def test_servers_that_agree_with_the_hypervisor_are_left_alone(admin: ApiSession) -> None:
    server = await active_server(admin)
    before = (await admin.get(f"/servers/{server['id']}")).json()
    assert await reconcile_servers(admin.runtime) == 0
    after = (await admin.get(f"/servers/{server['id']}")).json()
    assert after["updated_at"] == before["updated_at"]


async def test_a_server_with_an_operation_in_flight_is_not_touched(admin: ApiSession) -> None:
    server = await active_server(admin)
    await _simulator(admin).set_power_state(server["id"], PowerState.SHUTDOWN)
    # Put an operation in flight without letting the worker run it yet.
    queue, admin.runtime.queue = admin.runtime.queue, None
    assert (await admin.post(f"/servers/{server['id']}/pause")).status_code == 202
    assert await reconcile_servers(admin.runtime) == 0
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["task_state"] == "pausing"
    assert shown["power_state"] == "running"
    admin.runtime.queue = queue


async def test_every_batch_of_servers_is_compared(admin: ApiSession) -> None:
    servers = [await active_server(admin) for _ in range(5)]
    for server in servers:
        await _simulator(admin).set_power_state(server["id"], PowerState.PAUSED)
    assert await reconcile_servers(admin.runtime, batch_size=2) == 5
    for server in servers:
        assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == "PAUSED"
