"""One libvirt connection and the way every blocking libvirt call leaves the event loop.

libvirt-python blocks, so every call goes through ``HostConnection.call``, which runs it in a
worker thread and turns ``libvirtError`` into ``DriverError``. A libvirt connection is
thread-safe, so several calls may run at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import libvirt

from cloudplane.drivers.errors import DriverError

T = TypeVar("T")

_silenced = threading.Lock()
_silenced_once = False


def silence_default_error_printing() -> None:
    """Stop libvirt from printing every error to stderr; errors still raise ``libvirtError``."""
    global _silenced_once
    with _silenced:
        if not _silenced_once:
            libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
            _silenced_once = True


def error_code(exc: libvirt.libvirtError) -> int:
    code = exc.get_error_code()
    return int(code) if code is not None else -1


def is_missing(exc: libvirt.libvirtError) -> bool:
    """True when the error says the domain, volume, pool, network or network filter does not
    exist."""
    missing: bool = error_code(exc) in {
        libvirt.VIR_ERR_NO_DOMAIN,
        libvirt.VIR_ERR_NO_STORAGE_VOL,
        libvirt.VIR_ERR_NO_STORAGE_POOL,
        libvirt.VIR_ERR_NO_NETWORK,
        libvirt.VIR_ERR_NO_NWFILTER,
        libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT,
    }
    return missing


def start_unless_running(thing: libvirt.virStoragePool | libvirt.virNetwork) -> None:
    """Start a pool or network that is not running. Several threads may find one stopped at
    once: the ones that lose the race find it started, which is what they wanted."""
    if thing.isActive():
        return
    try:
        thing.create()
    except libvirt.libvirtError:
        if not thing.isActive():
            raise


def is_not_running(exc: libvirt.libvirtError) -> bool:
    """True when the call failed only because the domain is (already) shut off."""
    invalid: bool = error_code(exc) == libvirt.VIR_ERR_OPERATION_INVALID
    return invalid


def as_driver_error(exc: libvirt.libvirtError, doing: str) -> DriverError:
    code = error_code(exc)
    if code == libvirt.VIR_ERR_NO_SUPPORT:
        reason = "not_supported"
    elif code in {libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT}:
        reason = "unavailable"
    else:
        reason = "libvirt_error"
    return DriverError(f"libvirt failed while {doing}: {exc.get_error_message()}", code=reason)


class HostConnection:
    """A connection to one libvirt host (a URI), opened lazily and reopened when it dies."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._connection: libvirt.virConnect | None = None
        self._lock = threading.Lock()
        self._on_open: list[Callable[[libvirt.virConnect], None]] = []

    def on_open(self, hook: Callable[[libvirt.virConnect], None]) -> None:
        """Run ``hook`` on every connection opened from now on (and on the open one now).

        Blocking; subscriptions such as event callbacks live and die with one connection.
        """
        with self._lock:
            self._on_open.append(hook)
            current = self._connection
        if current is not None:
            hook(current)

    @property
    def is_test_driver(self) -> bool:
        """libvirt's in-process test hypervisor: no files, no hot-plug, no resize."""
        return self.uri.startswith("test:")

    def get(self) -> libvirt.virConnect:
        """The open connection (blocking); reopens it when the previous one stopped answering."""
        with self._lock:
            current = self._connection
            if current is not None and current.isAlive():
                return current
            if current is not None:
                _close_quietly(current)
            self._connection = None
            try:
                connection = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise DriverError(
                    f"cannot connect to libvirt at {self.uri}: {exc.get_error_message()}",
                    code="unavailable",
                ) from exc
            try:
                for hook in self._on_open:
                    hook(connection)
            except BaseException:
                _close_quietly(connection)
                raise
            self._connection = connection
            return connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                _close_quietly(self._connection)
                self._connection = None

    async def call(self, doing: str, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(connection, *args)`` in a worker thread.

        ``libvirtError`` becomes ``DriverError`` naming what was being done; ``DriverError``
        raised by ``function`` passes through.
        """
        return await asyncio.to_thread(self._call_blocking, doing, function, *args)

    def _call_blocking(self, doing: str, function: Callable[..., T], *args: Any) -> T:
        try:
            return function(self.get(), *args)
        except libvirt.libvirtError as exc:
            raise as_driver_error(exc, doing) from exc


def _close_quietly(connection: libvirt.virConnect) -> None:
    # A dead connection cannot be closed cleanly; it is dropped all the same.
    with suppress(libvirt.libvirtError):
        connection.close()
