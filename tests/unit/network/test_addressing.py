"""Drawing pool addresses at random: only pool addresses, from every pool, on any network size."""

from __future__ import annotations

import ipaddress
import random

from cloudplane.network.addressing import plan_subnet


def test_random_draws_stay_inside_the_pools_and_reach_each_of_them() -> None:
    subnet = plan_subnet(
        "10.0.0.0/24",
        gateway_ip="10.0.0.1",
        gateway_given=True,
        pools=[("10.0.0.10", "10.0.0.12"), ("10.0.0.200", "10.0.0.201")],
    )
    rng = random.Random(7)

    drawn = {subnet.random_pool_address(rng) for _ in range(500)}

    assert drawn == {"10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.200", "10.0.0.201"}


def test_a_random_draw_on_an_ipv6_64_is_a_host_of_it_and_never_the_router_address() -> None:
    subnet = plan_subnet("2001:db8::/64", gateway_ip=None, gateway_given=False, pools=None)
    rng = random.Random(7)

    for _ in range(100):
        address = ipaddress.ip_address(subnet.random_pool_address(rng))
        assert address in ipaddress.ip_network("2001:db8::/64")
        assert address not in (ipaddress.ip_address("2001:db8::"), subnet.gateway)
