"""Every postcondition of ``ComputeDriver``, checked against every driver.

Tests only rely on what ``cloudplane.drivers.base`` promises, so they hold for any backend. They
create servers with fresh ids and never assume the backend holds nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from cloudplane.drivers.base import (
    Capability,
    ComputeDriver,
    ConsoleInfo,
    PowerState,
    RebootKind,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
)


def make_server_spec(name: str = "contract-test") -> ServerSpec:
    """A small server with a fresh id and no image."""
    return ServerSpec(
        id=str(uuid.uuid4()),
        name=name,
        vcpus=1,
        ram_mb=256,
        disk_gb=1,
        image=None,
        metadata={"purpose": "contract-test"},
    )


async def create_stopped_server(driver: ComputeDriver) -> ServerSpec:
    spec = make_server_spec()
    await driver.create_server(spec)
    await driver.stop_server(spec.id)
    return spec


async def listed_ids(driver: ComputeDriver) -> list[str]:
    return [server.id for server in await driver.list_servers()]


# --- creating -------------------------------------------------------------------------------


async def test_a_created_server_is_running(driver: ComputeDriver) -> None:
    spec = make_server_spec()

    created = await driver.create_server(spec)

    assert created.id == spec.id
    assert created.power_state is PowerState.RUNNING
    assert (await driver.get_server(spec.id)).power_state is PowerState.RUNNING


async def test_a_created_server_is_listed(driver: ComputeDriver) -> None:
    spec = make_server_spec()

    await driver.create_server(spec)

    assert spec.id in await listed_ids(driver)


async def test_creating_the_same_server_twice_returns_one_server(driver: ComputeDriver) -> None:
    spec = make_server_spec()

    first = await driver.create_server(spec)
    second = await driver.create_server(spec)

    assert second == first
    assert (await listed_ids(driver)).count(spec.id) == 1


async def test_creating_an_existing_server_again_leaves_it_unchanged(
    driver: ComputeDriver,
) -> None:
    spec = await create_stopped_server(driver)

    again = await driver.create_server(spec)

    assert again.power_state is PowerState.SHUTDOWN
    assert (await driver.get_server(spec.id)).power_state is PowerState.SHUTDOWN


async def test_list_servers_returns_every_created_server(driver: ComputeDriver) -> None:
    specs = [make_server_spec(name=f"contract-test-{n}") for n in range(3)]
    for spec in specs:
        await driver.create_server(spec)

    listed = {server.id: server for server in await driver.list_servers()}

    for spec in specs:
        assert listed[spec.id].power_state is PowerState.RUNNING


# --- deleting -------------------------------------------------------------------------------


async def test_a_deleted_server_is_gone_from_get_and_list(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    await driver.delete_server(spec.id)

    with pytest.raises(ServerNotFound):
        await driver.get_server(spec.id)
    assert spec.id not in await listed_ids(driver)


async def test_deleting_an_unknown_server_succeeds(driver: ComputeDriver) -> None:
    await driver.delete_server(str(uuid.uuid4()))


async def test_deleting_a_server_twice_succeeds(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    await driver.delete_server(spec.id)
    await driver.delete_server(spec.id)

    assert spec.id not in await listed_ids(driver)


async def test_deleting_a_stopped_server_removes_it(driver: ComputeDriver) -> None:
    spec = await create_stopped_server(driver)

    await driver.delete_server(spec.id)

    assert spec.id not in await listed_ids(driver)


# --- power ----------------------------------------------------------------------------------


async def test_a_stopped_server_is_shut_down(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    stopped = await driver.stop_server(spec.id)

    assert stopped.power_state is PowerState.SHUTDOWN
    assert (await driver.get_server(spec.id)).power_state is PowerState.SHUTDOWN


async def test_stopping_a_stopped_server_is_a_no_op(driver: ComputeDriver) -> None:
    spec = await create_stopped_server(driver)

    stopped_again = await driver.stop_server(spec.id)

    assert stopped_again.power_state is PowerState.SHUTDOWN


async def test_starting_a_stopped_server_makes_it_running(driver: ComputeDriver) -> None:
    spec = await create_stopped_server(driver)

    started = await driver.start_server(spec.id)

    assert started.power_state is PowerState.RUNNING
    assert (await driver.get_server(spec.id)).power_state is PowerState.RUNNING


async def test_starting_a_running_server_is_a_no_op(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    started = await driver.start_server(spec.id)

    assert started.power_state is PowerState.RUNNING


async def test_a_paused_server_is_paused(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    paused = await driver.pause_server(spec.id)

    assert paused.power_state is PowerState.PAUSED
    assert (await driver.get_server(spec.id)).power_state is PowerState.PAUSED


async def test_pausing_a_paused_server_is_a_no_op(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)
    await driver.pause_server(spec.id)

    paused_again = await driver.pause_server(spec.id)

    assert paused_again.power_state is PowerState.PAUSED


async def test_resuming_a_paused_server_makes_it_running(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)
    await driver.pause_server(spec.id)

    resumed = await driver.resume_server(spec.id)

    assert resumed.power_state is PowerState.RUNNING
    assert (await driver.get_server(spec.id)).power_state is PowerState.RUNNING


async def test_resuming_twice_is_a_no_op_so_a_redelivered_resume_succeeds(
    driver: ComputeDriver,
) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)
    await driver.pause_server(spec.id)
    await driver.resume_server(spec.id)

    again = await driver.resume_server(spec.id)

    assert again.power_state is PowerState.RUNNING


@pytest.mark.parametrize("kind", list(RebootKind))
async def test_rebooting_a_running_server_leaves_it_running(
    driver: ComputeDriver, kind: RebootKind
) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    rebooted = await driver.reboot_server(spec.id, kind)

    assert rebooted.power_state is PowerState.RUNNING
    assert (await driver.get_server(spec.id)).power_state is PowerState.RUNNING


async def test_a_hard_reboot_starts_a_stopped_server(driver: ComputeDriver) -> None:
    spec = await create_stopped_server(driver)

    rebooted = await driver.reboot_server(spec.id, RebootKind.HARD)

    assert rebooted.power_state is PowerState.RUNNING
    assert (await driver.get_server(spec.id)).power_state is PowerState.RUNNING


# --- unknown servers ------------------------------------------------------------------------

ServerCall = Callable[[ComputeDriver, str], Awaitable[object]]

CALLS_THAT_NEED_A_SERVER: dict[str, ServerCall] = {
    "get_server": lambda driver, server_id: driver.get_server(server_id),
    "start_server": lambda driver, server_id: driver.start_server(server_id),
    "stop_server": lambda driver, server_id: driver.stop_server(server_id),
    "soft_reboot": lambda driver, server_id: driver.reboot_server(server_id, RebootKind.SOFT),
    "hard_reboot": lambda driver, server_id: driver.reboot_server(server_id, RebootKind.HARD),
    "pause_server": lambda driver, server_id: driver.pause_server(server_id),
    "resume_server": lambda driver, server_id: driver.resume_server(server_id),
    "get_console": lambda driver, server_id: driver.get_console(server_id),
}


@pytest.mark.parametrize("call", sorted(CALLS_THAT_NEED_A_SERVER))
async def test_calls_on_an_unknown_server_raise_server_not_found(
    driver: ComputeDriver, call: str
) -> None:
    unknown_id = str(uuid.uuid4())

    with pytest.raises(ServerNotFound) as raised:
        await CALLS_THAT_NEED_A_SERVER[call](driver, unknown_id)

    assert raised.value.code == "not_found"
    assert raised.value.server_id == unknown_id


# --- the backend ----------------------------------------------------------------------------


async def test_capabilities_are_a_constant_frozenset_of_capability(driver: ComputeDriver) -> None:
    capabilities = driver.capabilities

    assert isinstance(capabilities, frozenset)
    assert all(isinstance(capability, Capability) for capability in capabilities)
    assert driver.capabilities == capabilities


async def test_check_succeeds_on_a_working_backend(driver: ComputeDriver) -> None:
    await driver.check()


async def test_the_driver_has_a_name(driver: ComputeDriver) -> None:
    assert isinstance(driver.name, str)
    assert driver.name


async def test_get_console_returns_console_info(driver: ComputeDriver) -> None:
    spec = make_server_spec()
    await driver.create_server(spec)

    console = await driver.get_console(spec.id)

    assert isinstance(console, ConsoleInfo)
    assert console.type in {"vnc", "serial", "none"}
    assert (console.type == "none") == (Capability.CONSOLE not in driver.capabilities)


async def test_reported_servers_carry_the_spec_id(driver: ComputeDriver) -> None:
    spec = make_server_spec()

    created = await driver.create_server(spec)
    fetched = await driver.get_server(spec.id)

    assert isinstance(created, ServerInfo)
    assert fetched.id == spec.id


async def test_closing_a_driver_twice_is_safe(driver: ComputeDriver) -> None:
    await driver.close()
    await driver.close()
