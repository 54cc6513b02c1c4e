"""Sending through the legacy HTTP API: one request per message, the result from its answer."""

from __future__ import annotations

import logging
import time
from typing import Any

from .._http.channel import Channel
from .._http.session import Timeout
from .._protocol import legacy
from ..messages import Message
from ..result import Result
from .resources import Resources

__all__ = ["LegacySender", "prefix"]

log = logging.getLogger("fcmclient")


def prefix(token: str) -> str:
    """The start of a token, as logs show it (never the whole: tokens identify devices)."""
    return token[:8] + "..." if len(token) > 8 else token


class LegacySender:
    """Sends messages to ``url`` with the server key ``api_key``.

    :raises requests.RequestException: from :meth:`send`, no answer arrived.
    :raises FCMError: from :meth:`send`, as :func:`fcmclient._protocol.legacy.decode` says.
    """

    def __init__(
        self, api_key: str, url: str, timeout: Timeout, options: dict[str, Any], backoff: int
    ) -> None:
        self._api_key = api_key
        self.url = url
        self._timeout, self._options, self._backoff = timeout, options, backoff

    def send(self, message: Message, here: Resources) -> Result:
        """One request carrying ``message``, through this process's ``here`` resources."""
        content_type, body = legacy.encode(message)
        targets = message.targets
        log.debug("legacy send to %d target(s), first %s", len(targets), prefix(targets[0]))
        headers = {"Authorization": f"key={self._api_key}", "Content-Type": content_type}
        channel = Channel(here.session, self.url, headers, self._timeout, self._options)
        try:
            reply = channel.post(body, channel.headers({}))
        finally:
            channel.release()
        decoded = legacy.decode(message, reply.status, reply.headers, reply.body, time.time())
        log.debug("legacy answer HTTP %d for %d target(s)", reply.status, len(targets))
        return Result.from_outcomes(
            message, decoded.outcomes, self._backoff, multicast_id=decoded.multicast_id, rng=here.rng
        )
