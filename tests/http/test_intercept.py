"""The engine is taken only while every piece of requests it skips is the original."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

from fcmclient._http.intercept import connections_are_replaced, urllib3_is_watched
from fcmclient._http.route import engine_address
from fcmclient._http.session import make_session

URL = "https://fcm.googleapis.com/v1/projects/p/messages:send"


def engine_is_taken(session: requests.Session | None = None) -> bool:
    """Whether a fan-out to ``URL`` through ``session`` takes the engine (skipping requests)."""
    session = session or make_session(4)
    try:
        return engine_address(session, URL, {}) is not None
    finally:
        session.close()


def wrapped(owner: Any, name: str) -> Callable[[], Any]:
    """A patch that wraps ``owner.name`` the way tracing agents do (functools.wraps keeps its
    name and module: only its identity tells)."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    wrapper.__module__ = original.__module__
    wrapper.__qualname__ = original.__qualname__
    return lambda: mock.patch.object(owner, name, wrapper)


class Stub(urllib3.connection.HTTPSConnection):
    """A connection class a replaying double would put in place."""


PIECES = {
    "Session.send": wrapped(requests.Session, "send"),
    "Session.request": wrapped(requests.Session, "request"),
    "Session.get_adapter": wrapped(requests.Session, "get_adapter"),
    "HTTPAdapter.send": wrapped(HTTPAdapter, "send"),
    "HTTPConnectionPool.urlopen": wrapped(urllib3.connectionpool.HTTPConnectionPool, "urlopen"),
    "HTTPSConnectionPool.ConnectionCls": lambda: mock.patch.object(
        urllib3.connectionpool.HTTPSConnectionPool, "ConnectionCls", Stub
    ),
    "urllib3.connection.HTTPSConnection": lambda: mock.patch.object(
        urllib3.connection, "HTTPSConnection", Stub
    ),
    "http.client.HTTPConnection.getresponse": wrapped(http.client.HTTPConnection, "getresponse"),
}


def test_nothing_replaced_means_the_engine() -> None:
    assert engine_is_taken()
    assert not urllib3_is_watched()
    assert not connections_are_replaced()


@pytest.mark.parametrize("piece", list(PIECES))
def test_any_replaced_piece_means_the_ordinary_path(piece: str) -> None:
    with PIECES[piece]():
        assert not engine_is_taken()
    assert engine_is_taken()  # put back: the engine again


@pytest.mark.parametrize("piece", ["HTTPSConnectionPool.ConnectionCls", "urllib3.connection.HTTPSConnection"])
def test_replaced_connection_classes_are_recognised(piece: str) -> None:
    with PIECES[piece]():
        assert connections_are_replaced()
        assert urllib3_is_watched()


def test_a_method_replaced_on_the_session_itself_means_the_ordinary_path() -> None:
    session = make_session(4)
    with mock.patch.object(session, "send", session.send):
        assert not engine_is_taken(session)


def test_a_mounted_adapter_of_another_kind_means_the_ordinary_path() -> None:
    class Mine(HTTPAdapter):
        pass

    session = make_session(4)
    session.mount("http://", Mine())  # even for the other scheme: it says someone is watching
    assert not engine_is_taken(session)


def test_a_patched_send_on_the_mounted_adapter_means_the_ordinary_path() -> None:
    session = make_session(4)
    adapter = session.get_adapter(URL)
    with mock.patch.object(adapter, "send", adapter.send):
        assert not engine_is_taken(session)
