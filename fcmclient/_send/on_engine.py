"""The requests of a v1 call on the fan-out engine: each an
:class:`~fcmclient._protocol.exchange.Exchange`, its answer read as on requests' path
(:meth:`Call.fan_out <fcmclient._send.calls.Call.fan_out>` decides which path a call takes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import requests
from requests.utils import requote_uri

from .._http.engine.fanout import Limits, run
from .._http.engine.h2 import NotProcessed
from .._http.engine.origin import Headers, Request
from .._http.executor import Plan
from .._http.session import Reply, total_seconds
from .._protocol.exchange import Exchange
from ..outcomes import Outcome
from .legacy import prefix
from .tokens import AccessToken

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .calls import Call

__all__ = ["EngineJob", "request_target"]

log = logging.getLogger("fcmclient")

Describe = Callable[[int], tuple[Exchange[Outcome], str, str]]


def request_target(origin: str, url: str) -> str:
    """What the request line names for ``url`` on ``origin`` (``scheme://host[:port]``): its
    path and query, quoted as requests quotes a URL it prepares.

    :raises ValueError: ``url`` is not on ``origin``.
    """
    if not url.startswith(origin + "/"):
        raise ValueError("a call sends only to its own host")
    return requote_uri(url[len(origin) :])


class _NoToken(requests.RequestException):
    """No access token to send with (its fetch failed earlier in this call)."""


class EngineJob:
    """The requests of one fan-out of ``call`` on the engine.

    :param describe: position -> the exchange, what it does and to whom (for the log).
    """

    def __init__(self, call: Call, describe: Describe) -> None:
        self._call, self._describe = call, describe
        address = call.address
        assert address is not None
        self._address = address
        origin = call.url.split("/", 3)  # scheme:, "", host[:port], path
        self._origin = "/".join(origin[:3])
        self._url = self._quoted = ""
        #: Per request under way: its exchange, token and log label.
        self._sent: dict[int, tuple[Exchange[Outcome], AccessToken, str]] = {}
        #: The token fetch under way, if any (one for the whole fan-out).
        self._fetch: asyncio.Future[tuple[AccessToken, dict[str, str]]] | None = None

    def run(
        self, count: int, plan: Plan, more: Iterator[int] | None = None
    ) -> tuple[list[Outcome], BaseException | None]:
        """Every position through the engine, as :func:`~fcmclient._http.executor.execute`
        would; ``more`` adds positions as they go (see :func:`~fcmclient._http.engine.fanout.run`)."""
        call, timeout = self._call, self._call.timeout
        engine, address = call.here.engine(), self._address
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        limits = Limits(connect=float(connect), read=float(read), total=total_seconds(timeout))
        return run(engine, count, lambda: engine.origin(address), self, limits, plan, more)

    def request(self, index: int) -> Request | Awaitable[Request]:
        call = self._call
        if call.token_failure is not None:
            raise _NoToken()
        ready = call.bearer.ready()
        if ready is None:
            return self._after_fetch(index)
        return self._made(index, *ready)

    def _made(self, index: int, token: AccessToken, headers: Headers) -> Request:
        exchange, what, target = self._describe(index)
        self._sent[index] = (exchange, token, f"{what} {prefix(target)}")
        # As requests writes it: no Content-Length for an empty GET or HEAD, 0 otherwise.
        body = None if not exchange.body and exchange.method in ("GET", "HEAD") else exchange.body
        return Request(exchange.method, self._target(exchange.url), headers, body)

    def _target(self, url: str) -> str:
        if url != self._url:  # every request of a send goes to one URL: quoted once
            self._url, self._quoted = url, request_target(self._origin, url)
        return self._quoted

    async def _after_fetch(self, index: int) -> Request:
        """The request for ``index`` once a token is fetched: one fetch at a time for the whole
        fan-out, on a thread of its own (:meth:`Engine.offload`), its token used as it comes
        (however short its life) and its failure shared."""
        call = self._call
        if self._fetch is None:
            fetching = call.here.engine().offload(call.bearer.get, 2 * total_seconds(call.timeout))
            self._fetch = asyncio.ensure_future(fetching)
            self._fetch.add_done_callback(self._fetched)
        try:
            token, headers = await asyncio.shield(self._fetch)
        except requests.RequestException:
            raise _NoToken() from None
        if call.token_failure is not None:
            raise _NoToken()
        return self._made(index, token, tuple(headers.items()))

    def _fetched(self, fetch: asyncio.Future[tuple[AccessToken, dict[str, str]]]) -> None:
        self._fetch = None
        if fetch.cancelled():
            return
        exc = fetch.exception()
        if isinstance(exc, requests.RequestException):  # a refresh failed mid-call
            self._call.token_failed(exc)

    def outcome(self, index: int, reply: Reply) -> Outcome:
        exchange, token, about = self._sent.pop(index)
        decoded = self._call.read(exchange, reply, token, about)
        assert isinstance(decoded, Outcome)
        return decoded

    def failure(self, index: int, exc: requests.RequestException) -> Outcome:
        if isinstance(exc, _NoToken):
            failure = self._call.token_failure
            assert failure is not None
            return failure
        _, _, about = self._sent.pop(index, (None, None, "to ?"))
        log.debug("v1 %s failed in transport: %s", about, type(exc).__name__)
        if isinstance(exc, NotProcessed):  # the server says so: certainly not delivered
            return Outcome.not_sent(str(exc))
        return Outcome.transport_error(exc)
