"""``cloudplane flavor …`` and ``image …``: lookups, streamed uploads and downloads."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.unit.cli.client_runner import Run
from tests.unit.cli.fake_cloudplane_api import FakeCloudplane

from cloudplane.cli.client.api import API, CHUNK_SIZE


def test_flavor_show_accepts_a_name(run: Run, fake: FakeCloudplane) -> None:
    flavor = fake.add("flavors", name="m1.small", vcpus=1, ram_mb=512, disk_gb=5)

    result = run("flavor", "show", "m1.small", "-f", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == flavor


def test_image_create_registers_the_image_then_streams_the_exact_bytes(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.qcow2"
    data = b"QFI\xfb" + os.urandom(5 * CHUNK_SIZE + 12345)
    disk.write_bytes(data)

    result = run(
        "image", "create", "ubuntu", "--file", str(disk), "--disk-format", "qcow2",
        "--min-disk-gb", "3", "--min-ram-mb", "256", "--public", "-f", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    created = next(body for _, path, body in fake.bodies if path == f"{API}/images")
    assert created == {
        "name": "ubuntu",
        "disk_format": "qcow2",
        "visibility": "public",
        "min_disk_gb": 3,
        "min_ram_mb": 256,
    }
    image = json.loads(result.stdout)
    received = fake.uploads[image["id"]]
    assert received.size_bytes == len(data)
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert received.content_type == "application/octet-stream"
    assert received.content_length == str(len(data))
    assert received.chunks > 1  # arrived as a stream, not one buffer
    assert (image["status"], image["checksum_sha256"]) == ("active", received.sha256)


def test_image_create_with_a_missing_file_is_a_usage_error(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.qcow2"

    result = run("image", "create", "x", "--file", str(missing), "--disk-format", "qcow2")

    assert result.exit_code == 2
    assert fake.requests_to("POST", f"{API}/images") == []


def test_image_download_writes_the_file_and_checks_its_checksum(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    image = fake.add("images", name="cirros", checksum_sha256=hashlib.sha256(data).hexdigest())
    fake.files[image["id"]] = data
    target = tmp_path / "cirros.img"

    result = run("image", "download", "cirros", "-o", str(target))

    assert result.exit_code == 0, result.output
    assert target.read_bytes() == data
    assert result.stdout == f"Wrote {len(data)} bytes to {target}.\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cirros.img"]


def test_a_download_that_does_not_match_the_checksum_leaves_no_file(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    image = fake.add("images", name="cirros", checksum_sha256="0" * 64)
    fake.files[image["id"]] = b"corrupted"
    target = tmp_path / "cirros.img"

    result = run("image", "download", "cirros", "-o", str(target))

    assert result.exit_code == 1
    assert "Error (checksum_mismatch)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_image_delete_by_name(run: Run, fake: FakeCloudplane) -> None:
    image = fake.add("images", name="old")

    result = run("image", "delete", "old")

    assert result.exit_code == 0, result.output
    assert image["id"] not in fake.store["images"]
    assert result.stdout == "Deleted image old.\n"


def test_a_refused_upload_removes_the_image_record_it_created(
    run: Run, fake: FakeCloudplane, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.qcow2"
    disk.write_bytes(b"not a qcow2 file")
    fake.refused_uploads = True

    result = run("image", "create", "bad", "--file", str(disk), "--disk-format", "qcow2")

    assert result.exit_code == 1
    assert "Error (validation_error): uploading the file of image" in result.stderr
    assert "the image record was removed again" in result.stderr
    assert fake.store["images"] == {}
