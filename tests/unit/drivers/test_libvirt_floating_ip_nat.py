"""The floating-IP NAT rules' chains and how a mapping is read back from ``iptables -S``."""

from __future__ import annotations

import uuid

import pytest

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat
from cloudplane.drivers.network_contract import FloatingIpInfo


def _dnat_line(chain: str, floating_ip_id: str, port_id: str) -> str:
    """A DNAT rule as ``iptables -t nat -S`` prints it."""
    return (
        f"-A {chain} -d 203.0.113.5/32 -m comment --comment "
        f'"floating-ip {floating_ip_id} port {port_id}" -j DNAT --to-destination 10.0.0.5'
    )


def test_chains_fit_iptables_limit_and_differ_between_installations() -> None:
    ours, theirs = FloatingIpNat("cloudplane-"), FloatingIpNat("other-")
    chains = (ours.dnat_chain, ours.snat_chain, ours.forward_chain)

    assert max(len(chain) for chain in chains) <= 28
    assert len(set(chains)) == 3
    assert ours.dnat_chain != theirs.dnat_chain


def test_a_dnat_rule_reads_back_as_its_mapping() -> None:
    nat = FloatingIpNat("cloudplane-")
    floating_ip_id, port_id = str(uuid.uuid4()), str(uuid.uuid4())

    mapping = nat.mapping_of_rule(_dnat_line(nat.dnat_chain, floating_ip_id, port_id))

    assert mapping == FloatingIpInfo(
        id=floating_ip_id,
        ip="203.0.113.5",
        port_id=port_id,
        fixed_ip="10.0.0.5",
        backend_id="dnat:203.0.113.5",
    )


def test_rules_of_other_chains_or_without_our_comment_are_not_mappings() -> None:
    nat, other = FloatingIpNat("cloudplane-"), FloatingIpNat("other-")
    ids = str(uuid.uuid4()), str(uuid.uuid4())

    assert nat.mapping_of_rule(_dnat_line(other.dnat_chain, *ids)) is None
    assert nat.mapping_of_rule(f"-A {nat.dnat_chain} -d 203.0.113.5/32 -j DNAT") is None
    assert nat.mapping_of_rule("-P PREROUTING ACCEPT") is None


def test_an_id_that_is_not_a_uuid_never_reaches_a_rule() -> None:
    nat = FloatingIpNat("cloudplane-")
    mapping = FloatingIpInfo(id='x" -j ACCEPT', ip="203.0.113.5", port_id="p", fixed_ip="10.0.0.5")

    with pytest.raises(DriverError) as raised:
        nat.replace([mapping])
    assert raised.value.code == "invalid_id"
