"""What ``server create`` boots from and which networks and security groups it gets.

The options are checked together (:meth:`BootAndNetworks.from_options`, usage errors before any
request), then turned into the create body's ``image_id``, ``boot_volume``, ``networks`` and
``security_groups`` with every name resolved (:meth:`BootAndNetworks.request_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from cloudplane.cli.client.addresses import NetworkChoice, network_choice
from cloudplane.cli.client.api import ApiClient
from cloudplane.cli.client.lookup import IMAGE, NETWORK, PORT, SECURITY_GROUP, VOLUME, resolve_id

ImageOption = Annotated[
    str | None,
    typer.Option("--image", help="Image id or name (not needed with --boot-volume)."),
]
BootVolumeSizeOption = Annotated[
    int | None,
    typer.Option(
        "--boot-volume-size",
        min=1,
        metavar="GB",
        help="Boot from a new volume of this size made from --image.",
    ),
]
BootVolumeOption = Annotated[
    str | None,
    typer.Option(
        "--boot-volume",
        metavar="VOLUME",
        help="Boot from this existing bootable volume (id or name).",
    ),
]
NetworkOption = Annotated[
    list[str] | None,
    typer.Option(
        "--network",
        metavar="NET[=FIXED_IP]",
        help="A NIC on this network (id or name), at FIXED_IP if given; repeat for several.",
    ),
]
PortOption = Annotated[
    list[str] | None,
    typer.Option(
        "--port",
        metavar="PORT",
        help="A NIC from this unbound port (id or name); repeat for several. "
        "Port NICs come after --network ones.",
    ),
]
NoNetworkOption = Annotated[
    bool,
    typer.Option(
        "--no-network",
        help="No NIC at all (without --network/--port the server gets one on the "
        "project's only network, when it has exactly one).",
    ),
]
SecurityGroupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--security-group",
        metavar="GROUP",
        help="Security group id or name; repeat for several (default: the project's default).",
    ),
]


@dataclass(frozen=True)
class BootAndNetworks:
    """The boot source, interfaces and security groups asked for, checked but not resolved.

    ``no_network`` means an explicit empty ``networks``; with neither it nor any network or
    port, ``networks`` is left out and the API picks.
    """

    image: str | None
    boot_volume: str | None
    boot_volume_size: int | None
    networks: list[NetworkChoice]
    ports: list[str]
    no_network: bool
    security_groups: list[str]

    @classmethod
    def from_options(
        cls,
        *,
        image: str | None,
        boot_volume: str | None,
        boot_volume_size: int | None,
        networks: list[str] | None,
        ports: list[str] | None,
        no_network: bool,
        security_groups: list[str] | None,
    ) -> BootAndNetworks:
        """Check the options together; raise :class:`typer.BadParameter` for a bad mix."""
        if boot_volume is not None and boot_volume_size is not None:
            raise typer.BadParameter(
                "give --boot-volume (an existing volume) or --boot-volume-size (a new one), "
                "not both",
                param_hint="--boot-volume",
            )
        if image is None and boot_volume is None:
            raise typer.BadParameter(
                "give --image, or --boot-volume to boot from an existing volume",
                param_hint="--image",
            )
        if no_network and (networks or ports):
            raise typer.BadParameter(
                "--no-network cannot go with --network or --port", param_hint="--no-network"
            )
        return cls(
            image=image,
            boot_volume=boot_volume,
            boot_volume_size=boot_volume_size,
            networks=[network_choice(text) for text in networks or []],
            ports=list(ports or []),
            no_network=no_network,
            security_groups=list(security_groups or []),
        )

    def request_fields(self, client: ApiClient) -> dict[str, Any]:
        """The create body's boot, network and security-group fields, names resolved to ids.

        Raises ``not_found``/``ambiguous`` for a name that does not pick one resource, before
        the server is asked to create anything.
        """
        fields: dict[str, Any] = {}
        if self.image is not None:
            fields["image_id"] = resolve_id(client, IMAGE, self.image)
        if self.boot_volume is not None:
            fields["boot_volume"] = {"volume_id": resolve_id(client, VOLUME, self.boot_volume)}
        elif self.boot_volume_size is not None:
            fields["boot_volume"] = {"size_gb": self.boot_volume_size}
        if self.no_network or self.networks or self.ports:
            fields["networks"] = [
                *(self._network_entry(client, choice) for choice in self.networks),
                *({"port_id": resolve_id(client, PORT, port)} for port in self.ports),
            ]
        if self.security_groups:
            fields["security_groups"] = [
                resolve_id(client, SECURITY_GROUP, group) for group in self.security_groups
            ]
        return fields

    @staticmethod
    def _network_entry(client: ApiClient, choice: NetworkChoice) -> dict[str, str]:
        entry = {"network_id": resolve_id(client, NETWORK, choice.network)}
        if choice.fixed_ip is not None:
            entry["fixed_ip"] = choice.fixed_ip
        return entry
