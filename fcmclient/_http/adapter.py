"""fcm-client's transport adapter: requests' own, remembering the sockets it reads answers
from, so that a forked child can let go of its copies of them (:func:`_detach_inherited`,
:func:`close_inherited`).

A child never sends through its parent's session (each process makes its own, see
``_send/resources.py``), but it holds copies of the parent's pooled sockets: a copy keeps a
connection open after the parent closed it. The socket is reached through urllib3's and
http.client's public attributes (``HTTPResponse.connection``, ``HTTPConnection.sock``) when
an answer arrives; a socket that never got an answer is closed with its connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import weakref
from typing import Any

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from .bounded import given_up
from .process import ProcessGuard, forks, snapshot

__all__ = ["Adapter", "close_inherited", "remember", "shut_down"]

#: Every socket an :class:`Adapter` read an answer from, and the process that did: its id
#: and its :func:`~.process.forks` stamp.
_OPENED: weakref.WeakKeyDictionary[Any, tuple[int, int]] = weakref.WeakKeyDictionary()


class Adapter(HTTPAdapter):
    """:class:`~requests.adapters.HTTPAdapter`, remembering which process uses each socket,
    and sending only in the process that made it.

    Takes the same arguments and sends exactly as it does. Its pool holds sockets shared with
    any child forked later: a green thread (gevent) that a fork carried into the child gets a
    :class:`requests.ConnectionError` instead of a pooled connection of its parent's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._made_in = ProcessGuard()
        super().__init__(*args, **kwargs)

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        """Send as :meth:`HTTPAdapter.send <requests.adapters.HTTPAdapter.send>` does, in the
        process that made this adapter only."""
        if not self._made_in.owned():
            raise requests.ConnectionError(
                "this process was forked from the one that made this connection pool"
            )
        if given_up():
            raise requests.ConnectionError("not sent: its caller stopped waiting for it")
        return super().send(request, *args, **kwargs)

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """Build the response as requests does, after noting the socket it is read from."""
        remember(getattr(getattr(resp, "connection", None), "sock", None))
        return super().build_response(req, resp)


def remember(sock: object) -> None:
    """Note that this process reads answers from ``sock``, if it is an operating-system socket:
    the standard library's (TLS ones included, eventlet's among them) or the socket class in
    use (gevent's or eventlet's, once patched). Anything else (a test double's fake socket,
    whose ``fileno()`` may name stdin) is ignored: its descriptor is not ours to touch."""
    if not isinstance(sock, (socket.SocketType, socket.socket)):
        return
    with contextlib.suppress(TypeError):  # not weakly referenceable: nothing to track it by
        if sock not in _OPENED:
            _OPENED[sock] = (os.getpid(), forks())


def shut_down(response: Response) -> None:
    """Shut the connection ``response`` is read from down, from any thread: the thread reading
    it (a request abandoned at its deadline) stops at once, and the connection is not reused."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    # Through an HTTPS proxy the connection's socket is urllib3's TLS-in-TLS transport, which
    # has no shutdown(): the socket it wraps (its ``socket``) has.
    while sock is not None and not callable(getattr(sock, "shutdown", None)):
        sock = getattr(sock, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            sock.shutdown(socket.SHUT_RDWR)


def _inherited(*, hooks_ran: bool) -> list[Any]:
    """The sockets in :data:`_OPENED` that another process opened (read without a lock):
    through ``os.fork()``, whose hooks ran (``hooks_ran``), or through a C-level fork."""
    here = os.getpid()
    return [
        sock for sock, (pid, stamp) in snapshot(_OPENED) if pid != here and (stamp != forks()) == hooks_ran
    ]


def close_inherited() -> None:
    """Close this process's copies of the sockets another process's adapters read from.

    Only each inherited socket object is closed, never shut down: the parent's connections
    stay open. It takes no lock (a parent thread may have held one at the fork). Only the
    sockets a C-level fork (no Python hook) left to a child recognised later
    (``_send/resources.py``); an ``os.fork()`` child's are :func:`_detach_inherited`'s, which
    may run after this (a thread started by an earlier hook may run first).
    """
    for sock in _inherited(hooks_ran=False):
        sock.close()  # this process's copy only


#: In a child: the pipe whose read end replaced the inherited sockets' descriptors (kept
#: open, so that they never read as closed or readable).
_PIPE: tuple[int, int] | None = None


def _detach_inherited() -> None:
    """At ``os.fork()``, in the child, before any of its code runs: point the descriptor of
    each socket inherited from the parent's adapters at a pipe.

    The parent's connections are then the parent's alone, and no use of such a socket in the
    child reaches the network or takes an answer meant for the parent: the pipe's read end is
    never readable nor writable (a use waits out the socket's timeout; a socket call proper
    fails, ``ENOTSOCK``). Closing the socket instead would make urllib3 see a dropped
    connection and open a new one, for a green thread (gevent) that the fork carried over in
    the middle of a request to send it a second time. The socket objects stay open; they go
    with the parent's pools, which the child never uses (:class:`Adapter` refuses to send).
    """
    global _PIPE
    inherited = _inherited(hooks_ran=True)
    for sock in inherited:
        del _OPENED[sock]
    inherited = [sock for sock in inherited if sock.fileno() != -1]
    if not inherited:
        return
    if _PIPE is None:
        _PIPE = os.pipe()
    for sock in inherited:
        os.dup2(_PIPE[0], sock.fileno())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_detach_inherited)
