"""Opening the engine's connections: a host's name looked up once for every connection opened
meanwhile, each on a socket of this process's own, over TLS the protocol the server chose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import requests

from ..process import snapshot
from .h1 import H1Connection
from .h2 import Chooser, Connection, H2Link, retrieved

__all__ = ["RESOLVED_FOR", "Address", "Dialer", "Resolver", "close_inherited"]

#: Seconds a resolved address list is reused for new connections to the same host.
RESOLVED_FOR = 30.0

#: Every socket the engine opened, with the id of the process that opened it.
_OPENED: weakref.WeakKeyDictionary[socket.socket, int] = weakref.WeakKeyDictionary()


def close_inherited() -> None:
    """Close this process's copies of the engine sockets another process opened (a forked
    child's), so that the parent's close really closes them. Only the descriptor is closed:
    no shutdown, no TLS alert, nothing written, and the inherited loop (whose selector the
    parent still uses) is never touched."""
    here = os.getpid()
    for sock in [sock for sock, pid in snapshot(_OPENED) if pid != here]:
        _OPENED.pop(sock, None)
        sock.close()


@dataclass(frozen=True)
class Address:
    """Where an :class:`Origin` connects, and how."""

    scheme: str
    host: str
    port: int
    #: The TLS context (``https``), or None.
    tls: ssl.SSLContext | None
    #: The ``Host`` header value.
    authority: str
    #: Whether the TLS context offers HTTP/2 (ALPN "h2").
    http2: bool = False

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


Resolver = Callable[[str, int], Awaitable[Sequence[tuple[int, str]]]]


class Dialer:
    """Opens connections to ``address`` on ``loop``; ``resolve`` gives ``(family, ip)`` pairs
    for a host and port, off the loop's thread."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, address: Address, resolve: Resolver, max_body: int
    ) -> None:
        self._loop, self.address, self._resolve, self._max_body = loop, address, resolve, max_body
        self._resolved: tuple[float, Sequence[tuple[int, str]]] | None = None
        self._resolving: asyncio.Future[Sequence[tuple[int, str]]] | None = None

    async def connect(self, timeout: float) -> Connection:
        """A new connection, within ``timeout`` seconds (name lookup and TLS included).

        :raises requests.RequestException: ``ConnectTimeout``, ``ConnectionError`` or ``SSLError``.
        """
        address = self.address
        give_up = self._loop.time() + timeout
        try:
            addresses = await asyncio.wait_for(asyncio.shield(self._addresses()), timeout)
        except asyncio.TimeoutError:
            raise requests.ConnectTimeout(f"resolving {address.host} took over {timeout:g} s") from None
        failure: requests.RequestException | None = None
        for family, ip in addresses:
            left = give_up - self._loop.time()
            if left <= 0:
                break
            try:
                conn = await asyncio.wait_for(self._dial(family, ip), left)
            except asyncio.TimeoutError:
                break
            except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
                failure = _connect_error(exc, address)
                continue
            return conn
        raise failure or requests.ConnectTimeout(f"connecting to {address.where} took over {timeout:g} s")

    async def _dial(self, family: int, ip: str) -> Connection:
        """A connection to ``ip``, on a socket of this process's own (see :func:`close_inherited`)."""
        address, loop = self.address, self._loop
        sock = socket.socket(family, socket.SOCK_STREAM)
        conn: Connection | None = None
        try:
            sock.setblocking(False)
            _OPENED[sock] = os.getpid()
            await loop.sock_connect(sock, (ip, address.port))
            if address.tls is None:
                plain = H1Connection(loop, self._max_body, address.where)
                await loop.create_connection(lambda: plain, sock=sock)
                conn = plain
            else:
                chooser = Chooser(loop, self._max_body, address.where)
                await loop.create_connection(
                    lambda: chooser, sock=sock, ssl=address.tls, server_hostname=address.host
                )
                conn = chooser.chosen
                if isinstance(conn, H2Link):  # its limits known before its first stream
                    await conn.ready
        except BaseException:  # failed, timed out or cancelled: nothing is left open
            if conn is not None:
                conn.abort()
            sock.close()
            raise
        assert conn is not None
        return conn

    async def _addresses(self) -> Sequence[tuple[int, str]]:
        """The host's addresses: an IP literal as it is, a name looked up once for every
        connection opened meanwhile, then kept for :data:`RESOLVED_FOR` seconds."""
        literal = _ip_literal(self.address.host)
        if literal is not None:
            return literal
        resolved = self._resolved
        if resolved is not None and time.monotonic() - resolved[0] < RESOLVED_FOR:
            return resolved[1]
        if self._resolving is None:
            self._resolving = asyncio.ensure_future(self._look_up())
            self._resolving.add_done_callback(retrieved)
        return await asyncio.shield(self._resolving)

    async def _look_up(self) -> Sequence[tuple[int, str]]:
        now = time.monotonic()
        try:
            found = await self._resolve(self.address.host, self.address.port)
        except OSError as exc:
            raise requests.ConnectionError(
                f"cannot resolve {self.address.host}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            self._resolving = None
        self._resolved = (now, found)
        return found


def _ip_literal(host: str) -> list[tuple[int, str]] | None:
    """``host`` as an address to connect to, if it is an IP address (no lookup needed)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]


def _connect_error(exc: BaseException, address: Address) -> requests.RequestException:
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return requests.exceptions.SSLError(f"TLS handshake with {address.where} failed: {exc}")
    return requests.ConnectionError(f"cannot connect to {address.where}: {type(exc).__name__}: {exc}")
