"""The names of security groups' ipsets: within ipset's limit, per installation, reversible."""

from __future__ import annotations

import uuid

import pytest

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.libvirt.peer_sets import PeerSets


def test_a_groups_sets_are_named_per_family_within_ipsets_limit_and_lead_back_to_it() -> None:
    group_id = str(uuid.uuid4())
    sets = PeerSets("cloudplane-")

    v4, v6 = sets.set_name(group_id, 4), sets.set_name(group_id, 6)

    assert v4 != v6
    assert max(len(v4), len(v6)) <= 31
    assert sets.group_of(v4) == sets.group_of(v6) == group_id


def test_another_prefixs_sets_and_temporary_sets_are_not_taken_for_groups() -> None:
    group_id = str(uuid.uuid4())
    ours, theirs = PeerSets("cloudplane-"), PeerSets("other-")
    name = ours.set_name(group_id, 4)
    temporary = f"{name[:3]}x{name[4:]}"  # what a change fills before swapping it in

    assert ours.group_of(theirs.set_name(group_id, 4)) is None
    assert ours.group_of(temporary) is None
    assert ours.group_of("libvirt-set") is None


def test_a_group_id_that_is_not_a_uuid_is_a_driver_error() -> None:
    with pytest.raises(DriverError) as raised:
        PeerSets("cloudplane-").set_name("not-a-uuid", 4)

    assert raised.value.code == "invalid_id"
