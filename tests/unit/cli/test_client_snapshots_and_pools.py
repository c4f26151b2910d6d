"""``cloudplane snapshot …``, ``storage-pool …`` and ``volume-type …`` against the fake API."""

from __future__ import annotations

import json

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane, Json

from cloudplane.cli.client.api import API


def sent_to(fake: FakeCloudplane, method: str, path: str) -> list[object]:
    return [body for m, p, body in fake.bodies if m == method and p == path]


def add_pool(fake: FakeCloudplane, name: str = "fast-disks") -> Json:
    return fake.add(
        "storage-pools", name=name, kind="dir", path=f"/srv/{name}", export=None,
        capacity_gb=100, allocated_gb=30, available_gb=70, status="active",
    )  # fmt: skip


def test_snapshot_create_resolves_the_volume_and_waits_until_available(
    run: Run, fake: FakeCloudplane
) -> None:
    volume = fake.add_volume("data-1", size_gb=4)

    result = run(
        "snapshot", "create", "snap-1", "--volume", "data-1", "--description", "before upgrade",
        "--wait", "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["name"], shown["status"], shown["size_gb"]) == ("snap-1", "available", 4)
    assert sent_to(fake, "POST", f"{API}/snapshots") == [
        {"name": "snap-1", "description": "before upgrade", "volume_id": volume["id"]}
    ]


def test_snapshot_list_filters_by_a_volume_given_by_name(run: Run, fake: FakeCloudplane) -> None:
    volume = fake.add_volume("data-1")
    fake.add("snapshots", name="snap-1", volume_id=volume["id"], size_gb=1, status="available")
    fake.add("snapshots", name="snap-2", volume_id="another", size_gb=1, status="available")

    result = run("snapshot", "list", "--volume", "data-1")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "ID", "Name", "Status", "Size", "(GB)", "Volume", "Created",
    ]  # fmt: skip
    assert "snap-1" in result.stdout
    assert "snap-2" not in result.stdout
    assert fake.requests_to("GET", f"{API}/snapshots")[-1]["volume_id"] == volume["id"]


def test_snapshot_rename_and_delete_with_wait(run: Run, fake: FakeCloudplane) -> None:
    snapshot = fake.add("snapshots", name="snap-1", volume_id="v", size_gb=1, status="available")

    renamed = run("snapshot", "rename", "snap-1", "snap-2", "-f", "json")
    deleted = run("snapshot", "delete", "snap-2", "--wait")

    assert json.loads(renamed.stdout)["name"] == "snap-2"
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == "Deleted snapshot snap-2.\n"
    assert snapshot["id"] not in fake.store["snapshots"]


def test_storage_pool_create_of_a_dir_pool_sends_its_path_and_capacity(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run(
        "storage-pool", "create", "local", "--kind", "dir", "--path", "/srv/volumes",
        "--capacity-gb", "500", "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/storage-pools") == [
        {"name": "local", "kind": "dir", "path": "/srv/volumes", "capacity_gb": 500}
    ]
    assert json.loads(result.stdout)["available_gb"] == 500


def test_storage_pool_create_of_an_nfs_pool_sends_the_export_to_mount(
    run: Run, fake: FakeCloudplane
) -> None:
    result = run("storage-pool", "create", "shared", "--kind", "nfs", "--export", "nas:/vols")

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/storage-pools") == [
        {"name": "shared", "kind": "nfs", "export": "nas:/vols"}
    ]


def test_storage_pool_locations_that_do_not_fit_the_kind_are_usage_errors(
    run: Run, fake: FakeCloudplane
) -> None:
    dir_without_path = run("storage-pool", "create", "a", "--kind", "dir")
    dir_with_export = run(
        "storage-pool", "create", "b", "--kind", "dir", "--path", "/x", "--export", "nas:/x"
    )  # fmt: skip
    nfs_with_both = run(
        "storage-pool", "create", "c", "--kind", "nfs", "--path", "/x", "--export", "nas:/x"
    )  # fmt: skip
    nfs_with_neither = run("storage-pool", "create", "d", "--kind", "nfs")
    unknown_kind = run("storage-pool", "create", "e", "--kind", "ceph", "--path", "/x")

    for result in (dir_without_path, dir_with_export, nfs_with_both, nfs_with_neither):
        assert result.exit_code == 2, result.output
    assert unknown_kind.exit_code == 2
    assert fake.requests == []


def test_storage_pool_list_shows_capacity_columns(run: Run, fake: FakeCloudplane) -> None:
    pool = add_pool(fake)

    result = run("storage-pool", "list")

    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split()[:4] == ["ID", "Name", "Kind", "Path"]
    assert row.split() == [pool["id"], "fast-disks", "dir", "/srv/fast-disks", "100", "30", "70",
                           "active"]  # fmt: skip


def test_storage_pool_show_and_delete_by_name(run: Run, fake: FakeCloudplane) -> None:
    pool = add_pool(fake)

    shown = run("storage-pool", "show", "fast-disks", "-f", "json")
    deleted = run("storage-pool", "delete", "fast-disks")

    assert json.loads(shown.stdout) == pool
    assert deleted.stdout == "Deleted storage pool fast-disks.\n"
    assert fake.store["storage-pools"] == {}


def test_volume_type_create_resolves_the_pool_and_can_make_itself_the_default(
    run: Run, fake: FakeCloudplane
) -> None:
    pool = add_pool(fake)

    result = run("volume-type", "create", "fast", "--pool", "fast-disks", "--default", "-f", "json")

    assert result.exit_code == 0, result.output
    assert sent_to(fake, "POST", f"{API}/volume-types") == [
        {"name": "fast", "is_default": True, "storage_pool_id": pool["id"]}
    ]
    assert json.loads(result.stdout)["is_default"] is True


def test_volume_type_list_show_and_delete(run: Run, fake: FakeCloudplane) -> None:
    volume_type = fake.add(
        "volume-types", name="fast", storage_pool_id="p", is_default=False, description="SSD"
    )

    listed = run("volume-type", "list")
    shown = run("volume-type", "show", "fast", "-f", "json")
    deleted = run("volume-type", "delete", "fast")

    assert listed.stdout.splitlines()[0].split() == ["ID", "Name", "Pool", "Default", "Description"]
    assert "SSD" in listed.stdout
    assert json.loads(shown.stdout) == volume_type
    assert deleted.stdout == "Deleted volume type fast.\n"
    assert fake.store["volume-types"] == {}
