"""Addresses, ranges and ``NET=IP`` words are read before any request is made."""

from __future__ import annotations

import pytest
import typer

from cloudplane.cli.client.addresses import (
    NetworkChoice,
    allocation_pool,
    ip_text,
    network_choice,
)


def test_addresses_come_back_in_their_canonical_form() -> None:
    assert ip_text(" 10.0.0.5 ", option="--fixed-ip") == "10.0.0.5"
    assert ip_text("2001:DB8:0:0::1", option="--fixed-ip") == "2001:db8::1"


def test_a_word_that_is_not_an_address_names_the_option() -> None:
    with pytest.raises(typer.BadParameter) as caught:
        ip_text("10.0.0.256", option="--gateway")

    assert caught.value.param_hint == "--gateway"
    assert "'10.0.0.256' is not an IP address" in caught.value.message


def test_a_pool_is_split_at_its_dash_into_start_and_end() -> None:
    assert allocation_pool("10.0.0.10-10.0.0.20") == {"start": "10.0.0.10", "end": "10.0.0.20"}
    assert allocation_pool("fd00::10-fd00::20") == {"start": "fd00::10", "end": "fd00::20"}


@pytest.mark.parametrize("text", ["10.0.0.10", "10.0.0.10-", "-10.0.0.20", "a-b"])
def test_a_pool_without_two_addresses_is_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        allocation_pool(text)


def test_a_network_word_may_carry_an_address_after_its_last_equals_sign() -> None:
    assert network_choice("backend") == NetworkChoice("backend", None)
    assert network_choice("backend=10.0.0.5") == NetworkChoice("backend", "10.0.0.5")
    assert network_choice("a=b=fd00::5") == NetworkChoice("a=b", "fd00::5")


@pytest.mark.parametrize("text", ["=10.0.0.5", "backend=", "backend=web"])
def test_a_network_word_without_a_network_or_with_a_bad_address_is_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        network_choice(text)
