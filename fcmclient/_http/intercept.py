"""Whether something is watching requests, so that every request must take requests' own path.

HTTP test doubles (``responses``, ``requests-mock``, vcrpy, betamax), tracing agents and
custom transport adapters all work by replacing a piece of requests, urllib3 or http.client:
a method, a connection class, or the adapter mounted on a session. fcm-client's direct path
(:class:`~fcmclient._http.channel.Channel`) skips some of those pieces for speed, so it is taken only
when every piece it would skip is the library's own original; otherwise each request goes
through ``Session.request``, where the replacement sees it exactly as it would see any other.

A piece counts as original when it is the object found at import time *and* is defined in
the library's own module: a double already active when fcmclient was imported is seen too
(after it stops, requests keep taking the ordinary path: slower, never wrong).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

__all__ = ["adapter_is_own", "connections_are_replaced", "session_is_watched", "urllib3_is_watched"]

_Piece = tuple[Any, str, tuple[str, ...]]

#: Pieces of requests the direct path skips: (owner, attribute, modules the original may be
#: defined in).
_REQUESTS_PIECES: tuple[_Piece, ...] = (
    (requests.Session, "request", ("requests.sessions",)),
    (requests.Session, "post", ("requests.sessions",)),
    (requests.Session, "send", ("requests.sessions",)),
    (requests.Session, "get_adapter", ("requests.sessions",)),
    (HTTPAdapter, "send", ("requests.adapters",)),
    (HTTPAdapter, "build_response", ("requests.adapters",)),
)

#: Pieces of urllib3 and http.client that requests' own adapter uses, which the engine skips
#: too.
_URLLIB3_PIECES: tuple[_Piece, ...] = (
    (urllib3.connectionpool.HTTPConnectionPool, "urlopen", ("urllib3.connectionpool",)),
    (urllib3.connectionpool.HTTPConnectionPool, "ConnectionCls", ("urllib3.connection",)),
    (urllib3.connectionpool.HTTPSConnectionPool, "ConnectionCls", ("urllib3.connection",)),
    (urllib3.connectionpool, "HTTPConnection", ("urllib3.connection",)),
    (urllib3.connectionpool, "HTTPSConnection", ("urllib3.connection",)),
    (urllib3.connection, "HTTPConnection", ("urllib3.connection",)),
    (urllib3.connection, "HTTPSConnection", ("urllib3.connection",)),
    (urllib3.connection, "VerifiedHTTPSConnection", ("urllib3.connection",)),
    (urllib3.connection.HTTPConnection, "request", ("urllib3.connection", "http.client")),
    (urllib3.connection.HTTPConnection, "getresponse", ("urllib3.connection", "http.client")),
    (http.client.HTTPConnection, "request", ("http.client",)),
    (http.client.HTTPConnection, "getresponse", ("http.client",)),
    (http.client.HTTPConnection, "send", ("http.client",)),
)

#: The connection classes (a replaying double such as vcrpy swaps them for stubs).
_CONNECTION_CLASSES = frozenset(
    (id(owner), name) for owner, name, _ in _URLLIB3_PIECES if name.endswith(("Connection", "ConnectionCls"))
)

#: Session attributes a double may replace on one instance (``mock.patch.object(session, ...)``).
_SESSION_METHODS = frozenset(name for owner, name, _ in _REQUESTS_PIECES if owner is requests.Session)

_MISSING = object()


def _capture(pieces: Iterable[_Piece]) -> tuple[tuple[Any, str, tuple[str, ...], Any], ...]:
    return tuple((owner, name, modules, getattr(owner, name, _MISSING)) for owner, name, modules in pieces)


_REQUESTS_ORIGINALS = _capture(_REQUESTS_PIECES)
_URLLIB3_ORIGINALS = _capture(_URLLIB3_PIECES)
_CONNECTION_ORIGINALS = tuple(
    piece for piece in _URLLIB3_ORIGINALS if (id(piece[0]), piece[1]) in _CONNECTION_CLASSES
)


def _replaced(originals: Iterable[tuple[Any, str, tuple[str, ...], Any]]) -> bool:
    for owner, name, modules, original in originals:
        current = getattr(owner, name, _MISSING)
        if current is not original:
            return True
        if current is not _MISSING and getattr(current, "__module__", None) not in modules:
            return True
    return False


def urllib3_is_watched() -> bool:
    """Whether a piece of urllib3 or http.client has been replaced (vcrpy, a tracing agent)."""
    return _replaced(_URLLIB3_ORIGINALS)


def connections_are_replaced() -> bool:
    """Whether urllib3's connection classes have been replaced.

    A double that does this (vcrpy) puts the real classes back for a moment each time it
    makes a connection, for every thread at once: its requests must be made one at a time.
    """
    return _replaced(_CONNECTION_ORIGINALS)


def adapter_is_own(adapter: object, own: tuple[type, ...]) -> bool:
    """Whether ``adapter`` is one of the ``own`` adapter types, with nothing replaced on it."""
    return type(adapter) in own and "send" not in vars(adapter)


def session_is_watched(session: requests.Session, own: tuple[type, ...]) -> bool:
    """Whether requests through ``session`` must take ``Session.request``.

    True when a piece of requests, urllib3 or http.client has been replaced, when a method
    was replaced on ``session`` itself, or when an adapter other than the ``own`` types is
    mounted on it (betamax, ``requests_mock.Adapter``, an application's own adapter).
    """
    if _replaced(_REQUESTS_ORIGINALS) or urllib3_is_watched():
        return True
    if _SESSION_METHODS.intersection(vars(session)):
        return True
    return not all(adapter_is_own(adapter, own) for adapter in session.adapters.values())
