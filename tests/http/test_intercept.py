"""The direct path is taken only while every piece of requests it skips is the original."""

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

from fcmclient._http.channel import Channel
from fcmclient._http.intercept import connections_are_replaced, urllib3_is_watched
from fcmclient._http.session import make_session

URL = "https://fcm.googleapis.com/v1/projects/p/messages:send"


def channel_is_direct(session: requests.Session | None = None) -> bool:
    session = session or make_session(4)
    try:
        return Channel(session, URL, {}, 5.0, {}).direct
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


def test_nothing_replaced_means_the_direct_path() -> None:
    assert channel_is_direct()
    assert not urllib3_is_watched()
    assert not connections_are_replaced()


@pytest.mark.parametrize("piece", list(PIECES))
def test_any_replaced_piece_means_the_ordinary_path(piece: str) -> None:
    with PIECES[piece]():
        assert not channel_is_direct()
    assert channel_is_direct()  # put back: the direct path again


@pytest.mark.parametrize("piece", ["HTTPSConnectionPool.ConnectionCls", "urllib3.connection.HTTPSConnection"])
def test_replaced_connection_classes_are_recognised(piece: str) -> None:
    with PIECES[piece]():
        assert connections_are_replaced()
        assert urllib3_is_watched()


def test_a_method_replaced_on_the_session_itself_means_the_ordinary_path() -> None:
    session = make_session(4)
    with mock.patch.object(session, "send", session.send):
        assert not channel_is_direct(session)


def test_a_mounted_adapter_of_another_kind_means_the_ordinary_path() -> None:
    class Mine(HTTPAdapter):
        pass

    session = make_session(4)
    session.mount("http://", Mine())  # even for the other scheme: it says someone is watching
    assert not channel_is_direct(session)


def test_a_patched_send_on_the_mounted_adapter_means_the_ordinary_path() -> None:
    session = make_session(4)
    adapter = session.get_adapter(URL)
    with mock.patch.object(adapter, "send", adapter.send):
        assert not channel_is_direct(session)
