"""Many POSTs to one URL through ``Session.request``: requests' path for fan-outs.

It is the way of legacy sends, and of every v1 fan-out the engine
(:mod:`fcmclient._http.engine`) does not take: under a test double or a custom adapter, a
proxy, or gevent/eventlet (:mod:`~fcmclient._http.route`). Each request goes through
requests as ``Session.post`` would send it, so whatever watches requests sees it, within the
request's total deadline; once the status arrived it decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from .intercept import connections_are_replaced
from .process import forks
from .session import Reply, Timeout, post, total_seconds

__all__ = ["Channel"]

_Headers = Mapping[str, str]

#: Held by each request through the session while urllib3's connection classes are replaced.
_ONE_AT_A_TIME = threading.Lock()


def _forked() -> requests.ConnectionError:
    return requests.ConnectionError("this process was forked from the one that made this request")


class Channel:
    """POSTs to ``url`` through ``session``, its headers merged once: each call only sends a body.

    :param session: the pooled session (its headers and mounted adapters are used).
    :param url: where every request goes.
    :param headers: headers for every request, over the session's defaults (``None`` removes
        one of those, as in requests).
    :param timeout: seconds, or a ``(connect, read)`` pair.
    :param options: requests options: ``proxies``, ``verify``, ``cert``.
    """

    __slots__ = ("_headers", "_made_in", "_options", "_removed", "_serial", "_session", "_timeout", "url")

    def __init__(
        self,
        session: requests.Session,
        url: str,
        headers: Mapping[str, str | None],
        timeout: Timeout,
        options: Mapping[str, Any],
    ) -> None:
        self.url = url
        self._made_in = forks()
        self._timeout = timeout
        merged: CaseInsensitiveDict[str | bytes | None] = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        self._headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in merged.items()
            if value is not None
        }
        # Session defaults these headers remove: Session.request would add them back.
        self._removed: dict[str, None] = {name: None for name, value in merged.items() if value is None}
        self._session = session
        self._serial = connections_are_replaced()
        self._options = {name: options.get(name) for name in ("proxies", "verify", "cert")}

    def headers(self, extra: _Headers) -> dict[str, str]:
        """Every header of a request: the channel's with ``extra`` over them (make once, reuse)."""
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(self._headers)
        merged.update(extra)
        return dict(merged)

    def post(self, body: bytes, headers: _Headers) -> Reply:
        """POST ``body`` with exactly ``headers`` (from :meth:`headers`) to the channel's URL."""
        return self.request("POST", self.url, body, headers)

    def request(self, method: str, url: str, body: bytes, headers: _Headers) -> Reply:
        """Send ``method`` with ``body`` and exactly ``headers`` (from :meth:`headers`) to ``url``.

        ``url`` is the channel's own, or below it (it starts with it). Never follows redirects.
        Reads at most :data:`~fcmclient._http.session.MAX_RESPONSE_BYTES` of the answer, and only
        in the process that made the channel: a green thread (gevent, eventlet) that a fork
        carried into a child gets a :class:`requests.ConnectionError` instead, before sending
        or, when the fork came during the exchange, instead of the answer (its parent's).

        :raises requests.RequestException: on any network problem, as ``Session.request`` would.
        :raises ValueError: ``url`` is not below the channel's URL (a mistake of the caller).
        """
        if not url.startswith(self.url):
            raise ValueError("a channel sends only to its own URL and the URLs below it")
        if forks() != self._made_in:
            raise _forked()
        reply = self._send(method, url, body, headers)
        if forks() != self._made_in:
            raise _forked()
        return reply

    def _send(self, method: str, url: str, body: bytes, headers: _Headers) -> Reply:
        if self._serial:
            # One at a time while urllib3's connection classes are replaced (vcrpy puts them
            # back for every thread while it makes a connection): waiting counts against
            # this request's own deadline.
            total = total_seconds(self._timeout)
            until = time.monotonic() + total
            if not _ONE_AT_A_TIME.acquire(timeout=total):
                raise requests.ConnectTimeout("no turn to send within the request's deadline")
            try:
                return self._send_now(method, url, body, headers, until - time.monotonic())
            finally:
                _ONE_AT_A_TIME.release()
        return self._send_now(method, url, body, headers, None)

    def _send_now(self, method: str, url: str, body: bytes, headers: _Headers, total: float | None) -> Reply:
        merged = {**headers, **self._removed}
        return post(
            self._session, url, body, merged, self._timeout, self._options, method=method, total=total
        )
