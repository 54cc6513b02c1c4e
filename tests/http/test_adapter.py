"""fcmclient._http.adapter: the session's adapter sends only for a caller still waiting, and
notes every socket-like object it reads answers from (for a forked child to detach)."""

from __future__ import annotations

import threading

import pytest
import requests

from fcmclient._http.adapter import _OPENED, remember
from fcmclient._http.bounded import run_within
from fcmclient._http.session import make_session
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


class SocketLike:
    """What eventlet's TLS socket is to the adapter: a socket without being a socket.socket."""

    def fileno(self) -> int:
        return -1


class Unreferenceable:
    __slots__ = ()

    def fileno(self) -> int:
        return -1


def test_any_socket_like_object_is_noted_and_others_are_ignored() -> None:
    like = SocketLike()
    remember(like)
    assert like in _OPENED
    remember(Unreferenceable())  # cannot be tracked weakly: ignored, no error
    remember(object())  # no fileno: not a socket
    remember(None)
    assert all(callable(getattr(sock, "fileno", None)) for sock in list(_OPENED))
