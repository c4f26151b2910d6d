"""A TCP port that relays to a unix socket, and can be cut: a host that stops answering.

libvirt clients reach the local daemon through it as ``qemu+tcp://127.0.0.1:<port>/system``;
``cut`` closes the port and every connection through it, as a network failure would.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class SocketRelay:
    def __init__(self, unix_path: str, port: int = 0) -> None:
        """Relay from ``port`` (a free one when 0) to the unix socket ``unix_path``."""
        self._unix_path = unix_path
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def cut(self) -> None:
        """Close the port and every relayed connection; nothing answers on it afterwards."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            daemon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            daemon.connect(self._unix_path)
            with self._lock:
                self._connections += [client, daemon]
            for source, target in ((client, daemon), (daemon, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
