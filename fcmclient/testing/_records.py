"""Plain values the emulator hands back: recorded requests and counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._http import Request

__all__ = ["REDACTED", "EmulatorStats", "Protocol", "RecordedRequest", "record_of", "redact_headers"]

#: ``topics`` is the topic subscription API (``/v1/projects/*/registrations/*/topicSubscriptions``).
Protocol = Literal["legacy", "v1", "oauth", "topics"]

#: What replaces a secret (an API key, access token or JWT assertion) in records.
REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received on a send, topic subscription or token endpoint.

    Example::

        with FCMEmulator() as emu:
            ...  # send something
            last = emu.requests[-1]
            assert last.protocol == "v1" and last.targets == ("token-1",)

    :param protocol: ``"legacy"``, ``"v1"``, ``"oauth"`` or ``"topics"``.
    :param method: the HTTP method.
    :param path: the request path, percent-decoded.
    :param headers: header values by lower-case name; credentials are redacted.
    :param body: the parsed JSON body, the form fields as a dict (the OAuth assertion
        redacted), the body text when it could not be parsed, or ``None`` when empty.
    :param targets: the tokens, ``/topics/NAME`` keys or conditions the request addressed
        (for a topic subscription request, its registration).
    :param received_at: ``time.monotonic()`` when the request arrived.
    :param query: the query string as sent, without ``?`` (e.g. ``topicName=news``).
    """

    protocol: Protocol
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    targets: tuple[str, ...]
    received_at: float
    query: str = ""


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of the emulator's counters (all reset by ``reset()``).

    Example::

        stats = emu.stats
        assert stats.connections_opened == 1  # every request reused one connection

    :param connections_opened: TCP connections accepted.
    :param connections_active: connections open right now.
    :param requests_total: HTTP requests read, on any path.
    :param legacy_requests: requests to ``/fcm/send``.
    :param v1_requests: requests to ``/v1/projects/*/messages:send``.
    :param oauth_requests: requests to ``/token``.
    :param messages_delivered: messages put in an inbox (a topic send counts once for the
        topic's inbox and once per subscriber).
    :param topic_requests: requests to the topic subscription API.
    """

    connections_opened: int
    connections_active: int
    requests_total: int
    legacy_requests: int
    v1_requests: int
    oauth_requests: int
    messages_delivered: int
    topic_requests: int = 0


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy ``headers``, replacing credentials but keeping the auth scheme.

    :param headers: header values by lower-case name.
    """
    redacted = dict(headers)
    value = redacted.get("authorization")
    if value is not None:
        if value[:4].lower() == "key=":
            redacted["authorization"] = "key=" + REDACTED
        else:
            scheme, space, _ = value.partition(" ")
            redacted["authorization"] = f"{scheme} {REDACTED}" if space else REDACTED
    if "cookie" in redacted:
        redacted["cookie"] = REDACTED
    return redacted


def record_of(protocol: Protocol, request: Request, body: Any, targets: tuple[str, ...]) -> RecordedRequest:
    """The record of ``request``, its credentials redacted.

    :param protocol: which API it called.
    :param request: the request.
    :param body: what to keep as its body (already redacted where needed).
    :param targets: what it addressed.
    """
    return RecordedRequest(
        protocol=protocol,
        method=request.method,
        path=request.path,
        headers=redact_headers(request.headers),
        body=body,
        targets=targets,
        received_at=request.received_at,
        query=request.query,
    )
