"""One request of a fan-out and how to read its answer: what every operation hands the transport.

A v1 send to one target, a topic subscription of one token, a page of a token's topics: each
is an :class:`Exchange`, ``(method, url, body)`` then ``decode(status, headers, body, now)``.
Whatever runs them (today's threaded fan-out, or another engine) needs nothing else of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

__all__ = ["Decoder", "Exchange"]

R = TypeVar("R")

#: Reads an answer: ``decode(status, headers, body, now)``, ``now`` the POSIX time (for
#: ``Retry-After`` dates). It may raise what its codec documents (a rejected credential).
Decoder = Callable[[int, Mapping[str, str], bytes, float], R]


class Exchange(Generic[R]):
    """A request to make and the decoder of its answer: a plain value, built by a codec.

    :param method: the HTTP method.
    :param url: the full URL, its path segments quoted.
    :param body: the request body (``b""`` for none).
    :param decode: reads the answer into what the operation reports (an outcome, a page).

    >>> from fcmclient._protocol import v1
    >>> Exchange("POST", v1.V1_URL, b'{"message":{"topic":"news"}}', v1.decode).method
    'POST'
    """

    __slots__ = ("body", "decode", "method", "url")

    def __init__(self, method: str, url: str, body: bytes, decode: Decoder[R]) -> None:
        self.method = method
        self.url = url
        self.body = body
        self.decode = decode

    def __repr__(self) -> str:  # the URL and body name a token: logs show prefixes only
        return f"<Exchange {self.method}, {len(self.body)} bytes>"
