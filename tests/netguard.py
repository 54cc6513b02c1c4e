"""A guard that refuses, and remembers, every DNS lookup or connect beyond the loopback.

Installed for the whole test run by ``tests/conftest.py``: a test that would reach the
network (a request escaping a test double, say) gets a refusal instead, and fails when it
ends, naming the host, even if the library turned the refusal into an outcome to retry.
Only names and addresses of this machine's loopback pass: ``localhost``, ``127.0.0.0/8``,
``::1``, and Unix sockets.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: object) -> bool:
    """Whether ``host`` (a name, an address, or bytes of either) stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Refuses non-loopback ``getaddrinfo`` and ``connect`` calls and records them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: list[str] = []

    def _refuse(self, what: str) -> None:
        with self._lock:
            self.attempts.append(what)

    def take(self) -> list[str]:
        """The attempts recorded since the last call, forgotten."""
        with self._lock:
            attempts, self.attempts = self.attempts, []
        return attempts

    @contextmanager
    def installed(self) -> Iterator[NetworkGuard]:
        """Patch the socket module for the duration of the block."""
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        guard = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not is_loopback(host):
                guard._refuse(f"DNS lookup of {host!r}")
                raise socket.gaierror(socket.EAI_NONAME, f"test network guard: no lookup of {host!r}")
            return real_getaddrinfo(host, *args, **kwargs)

        def allowed(sock: socket.socket, address: Any) -> bool:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return True
            host = address[0] if isinstance(address, tuple) else address
            if is_loopback(host):
                return True
            guard._refuse(f"connect to {address!r}")
            return False

        def connect(sock: socket.socket, address: Any) -> None:
            if not allowed(sock, address):
                raise ConnectionRefusedError(f"test network guard: no connection to {address!r}")
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if not allowed(sock, address):
                return 111  # ECONNREFUSED
            return real_connect_ex(sock, address)

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        try:
            yield self
        finally:
            socket.getaddrinfo = real_getaddrinfo
            socket.socket.connect = real_connect  # type: ignore[method-assign]
            socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
