"""Reading the IP addresses, address ranges and ``NET=IP`` words typed on the command line.

Each reader returns the text to send (an address in its canonical form) or raises
:class:`typer.BadParameter` naming the option, so a typo is a usage error (exit 2) before any
request is made. Whether an address fits a network is the API's to judge.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class NetworkChoice:
    """One ``--network NET[=FIXED_IP]``: a network's id or name, and the address asked for."""

    network: str
    fixed_ip: str | None


def ip_text(text: str, *, option: str) -> str:
    """``text`` as a canonical IPv4 or IPv6 address; a usage error if it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an IP address", param_hint=option) from None


def allocation_pool(text: str, *, option: str = "--pool") -> dict[str, str]:
    """``START-END`` as the API's ``{"start", "end"}``; both ends must be addresses.

    The separator is the first ``-``: neither IPv4 nor IPv6 addresses contain one.
    """
    start, sep, end = text.partition("-")
    if not sep or not start.strip() or not end.strip():
        raise typer.BadParameter(f"{text!r} is not START-END", param_hint=option)
    return {"start": ip_text(start, option=option), "end": ip_text(end, option=option)}


def network_choice(text: str, *, option: str = "--network") -> NetworkChoice:
    """``NET`` or ``NET=FIXED_IP``; the text after the last ``=`` must then be an address.

    Names may contain ``=`` (addresses never do), so only the last one splits; a network whose
    name ends in ``=`` followed by something that is not an address is given by its id.
    """
    network, sep, address = text.rpartition("=")
    if not sep:
        network, address = text, ""
    if not network.strip():
        raise typer.BadParameter(f"{text!r} names no network", param_hint=option)
    return NetworkChoice(network, ip_text(address, option=option) if sep else None)
