"""HTTP v1 sends on the fan-out engine: one request per target, its answer judged as on
requests' path (:class:`~fcmclient._send.v1.V1Sender` decides which path a call takes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

from .._http.engine.fanout import Limits, run
from .._http.engine.origin import Request
from .._http.executor import Plan
from .._http.session import Reply, total_seconds
from ..outcomes import Outcome
from .legacy import prefix
from .tokens import AccessToken

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .v1 import Call, V1Sender

__all__ = ["EngineJob", "transport_failure"]

log = logging.getLogger("fcmclient")


def transport_failure(exc: requests.RequestException, target: str) -> Outcome:
    """The outcome of a send to ``target`` that failed in the network."""
    log.debug("v1 send to %s failed in transport: %s", prefix(target), type(exc).__name__)
    return Outcome.transport_error(exc)


class _NoToken(requests.RequestException):
    """No access token to send with (its fetch failed earlier in this call)."""


class EngineJob:
    """The requests of one v1 fan-out window on the engine.

    :param body: the request body and target (a token, a topic) of each position.
    """

    def __init__(self, sender: V1Sender, call: Call, body: Callable[[int], tuple[bytes, str]]) -> None:
        self._sender, self._call, self._body = sender, call, body
        parts = urlsplit(sender.url)
        self._path = parts.path + ("?" + parts.query if parts.query else "")
        #: The token each request under way was sent with (to invalidate the right one).
        self._tokens: dict[int, tuple[AccessToken, str]] = {}

    def run(self, count: int, plan: Plan) -> tuple[list[Outcome], BaseException | None]:
        """Every position through the engine, as :func:`~fcmclient._http.executor.execute` would."""
        call, timeout = self._call, self._sender.timeout
        address = call.address
        assert address is not None
        engine = call.here.engine()
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        limits = Limits(connect=float(connect), read=float(read), total=total_seconds(timeout))
        return run(engine, count, lambda: engine.origin(address), self, limits, plan)

    def request(self, index: int) -> Request | Awaitable[Request]:
        call = self._call
        if call.token_failure is not None:
            raise _NoToken()
        ready = call.bearer.ready()
        if ready is None:
            return self._after_fetch(index)
        token, headers = ready
        body, target = self._body(index)
        self._tokens[index] = (token, target)
        return Request("POST", self._path, headers, body)

    async def _after_fetch(self, index: int) -> Request:
        call = self._call
        try:
            await call.here.engine().offload(call.bearer.get)
        except requests.RequestException as exc:  # a refresh failed mid-send
            log.warning("access token refresh failed in the middle of a send: %s", type(exc).__name__)
            cause = Outcome.transport_error(exc).detail
            if call.token_failure is None:
                call.token_failure = Outcome.not_sent(f"the access token could not be fetched ({cause})")
            raise _NoToken() from None
        request = self.request(index)
        return request if isinstance(request, Request) else await request

    def outcome(self, index: int, reply: Reply) -> Outcome:
        token, target = self._tokens.pop(index)
        return self._sender.judge(self._call, token, reply, target)

    def failure(self, index: int, exc: requests.RequestException) -> Outcome:
        if isinstance(exc, _NoToken):
            failure = self._call.token_failure
            assert failure is not None
            return failure
        _, target = self._tokens.pop(index, (None, "?"))
        return transport_failure(exc, target)
