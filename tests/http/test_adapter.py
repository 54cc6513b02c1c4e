"""fcmclient._http.adapter: the session's adapter sends only for a caller still waiting, and
notes every socket-like object it reads answers from (for a forked child to detach)."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest
import requests

from fcmclient._http.adapter import _OPENED, remember, shut_down
from fcmclient._http.bounded import run_within
from fcmclient._http.session import _Exchange, make_session
from tests.loopback import RawServer, answer, http_answer

WAIT = 10.0


def test_a_request_whose_caller_stopped_waiting_is_never_sent() -> None:
    """The caller's deadline passes before its helper reaches the adapter (a helper that
    started late): the adapter refuses, so nothing goes out for a caller that reported a
    timeout (the target would be retried, and delivered twice)."""
    release, ended = threading.Event(), threading.Event()
    outcome: list[object] = []

    with RawServer(answer(http_answer(200, b"{}"))) as server, make_session(1) as session:

        def late() -> None:
            release.wait(WAIT)
            try:
                outcome.append(session.post(server.url(), data=b"{}", timeout=5.0))
            except requests.RequestException as exc:
                outcome.append(exc)
            finally:
                ended.set()

        with pytest.raises(requests.ReadTimeout):
            run_within(late, 0.1)
        release.set()
        assert ended.wait(WAIT)
        assert server.connections == 0
    [refused] = outcome
    assert isinstance(refused, requests.ConnectionError)
    assert "stopped waiting" in str(refused)


class TLSLike(socket.SocketType):  # type: ignore[misc,valid-type]
    """What eventlet's TLS socket is: a standard socket underneath, but no ``socket.socket``
    once eventlet has patched that name."""


class FakeSocket:
    """What a test double's socket is (vcrpy's, say): ``fileno()`` names some descriptor
    (vcrpy's says 0, stdin) that is not a connection of ours."""

    def fileno(self) -> int:
        return 0


def test_operating_system_sockets_are_noted_and_fakes_ignored() -> None:
    plain, tls = socket.socket(), TLSLike()
    try:
        remember(plain)
        remember(tls)
        assert plain in _OPENED
        assert tls in _OPENED
    finally:
        plain.close()
        tls.close()
    fake = FakeSocket()
    remember(fake)
    remember(object())
    remember(None)
    assert all(isinstance(sock, (socket.SocketType, socket.socket)) for sock in list(_OPENED))


class Recorder:
    """A socket that records being shut down."""

    def __init__(self) -> None:
        self.shut: list[int] = []

    def shutdown(self, how: int) -> None:
        self.shut.append(how)


class Transport:
    """urllib3's TLS-in-TLS transport (an HTTPS proxy): no shutdown(), the socket it wraps."""

    def __init__(self, wrapped: Recorder) -> None:
        self.socket = wrapped


def response_on(sock: object) -> requests.Response:
    response = requests.Response()
    response.raw = SimpleNamespace(connection=SimpleNamespace(sock=sock))
    return response


def test_shutting_down_reaches_the_socket_under_a_tls_transport() -> None:
    plain, wrapped = Recorder(), Recorder()
    shut_down(response_on(plain))
    shut_down(response_on(Transport(wrapped)))
    shut_down(response_on(None))  # no connection: nothing to do
    assert plain.shut == wrapped.shut == [socket.SHUT_RDWR]


def test_giving_up_never_shuts_a_connection_its_helper_is_done_with() -> None:
    """Once the helper is done reading, its connection may be back in the pool, carrying
    another request: giving up on the first must not cut it."""
    for done, expected in ((False, [socket.SHUT_RDWR]), (True, [])):
        sock = Recorder()
        exchange = _Exchange("http://127.0.0.1/")
        exchange.response = response_on(sock)
        exchange.response.status_code = 200
        if done:
            exchange.finish()
        reply = exchange.give_up()
        assert reply is not None
        assert reply.status == 200
        assert sock.shut == expected
