"""Topic management through HTTP v1: one request per token, fanned out as a send's targets are.

Subscribing and unsubscribing go through the same bounded fan-out, channel, deadlines and
access tokens as a v1 send (:class:`~fcmclient._send.calls.Call`), the requests and their
answers made and read by :mod:`fcmclient._protocol.topics`; the result is a
:class:`~fcmclient.TopicResult`. Listing a token's topics follows the pages one by one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import requests

from .._content import check_token
from .._protocol import topics
from .._protocol.exchange import Exchange
from ..errors import FCMRequestError, FCMResponseError, FCMUnsupportedError
from ..outcomes import ACCESS_TOKEN_EXPIRED, Outcome
from ..result import TopicResult
from .calls import Call, attach_result
from .legacy import prefix
from .resources import Resources
from .v1 import V1Sender

__all__ = ["TopicSender", "checked_tokens"]


def checked_tokens(tokens: object) -> list[str]:
    """``tokens`` (one token, or an iterable of them) as a list without duplicates, first kept.

    :raises TypeError: not a str nor an iterable of str.
    :raises ValueError: no token, or an empty one.
    """
    if isinstance(tokens, str):
        return [tokens] if tokens else [check_token(tokens, "a registration token")]
    if isinstance(tokens, (bytes, bytearray)) or not isinstance(tokens, Iterable):
        raise TypeError(f"tokens must be a str or an iterable of str, not {type(tokens).__name__}")
    given = list(tokens)
    if not given:
        raise ValueError("tokens is empty: give at least one registration token")
    return list(dict.fromkeys(check_token(token, "a registration token") for token in given))


class TopicSender:
    """Manages the topic subscriptions of a v1 sender's project, as that sender sends: the same
    timeout, requests options, backoff, ``max_workers`` and ``send_timeout``.

    :param sender: the v1 sender; the subscription API is under its URL's project.
    """

    def __init__(self, sender: V1Sender) -> None:
        self._registrations = topics.registrations_url(sender.url)
        self._sender = sender

    def _base(self) -> str:
        if self._registrations is None:
            raise FCMUnsupportedError(
                "topic management needs the v1 send URL of a project (ending in /messages:send), "
                "under which FCM's subscription API is; this FCM's url does not end so"
            )
        return self._registrations

    def change(self, operation: str, tokens: str | Iterable[str], topic: str, here: Resources) -> TopicResult:
        """Subscribe (``operation`` ``"subscribe"``) or unsubscribe every token, one request each.

        :raises TypeError, ValueError: bad tokens or topic (nothing is sent).
        :raises FCMUnsupportedError: no subscription API under the send URL.
        :raises requests.RequestException: the first access token could not be fetched.
        :raises FCMAuthenticationError: the credentials were rejected (with the partial
            result as ``result``).
        """
        base = self._base()
        name = topics.topic_name(topic)
        targets = checked_tokens(tokens)
        make = topics.subscribe if operation == "subscribe" else topics.unsubscribe
        call = Call(here, base, self._sender.timeout, self._sender.options)

        def one(position: int) -> tuple[Exchange[Outcome], str, str]:
            token = targets[position]
            return make(base, token, name), operation, token

        sender = self._sender
        outcomes, error = call.fan_out(len(targets), one, sender.max_workers, sender.send_timeout)
        outcome_of = dict(zip(targets, outcomes, strict=True))
        result = TopicResult(name, outcome_of, operation=operation, backoff=sender.backoff, rng=here.rng)
        if error is not None:
            attach_result(error, result)
            raise error
        return result

    def subscriptions(self, token: str, here: Resources) -> list[str]:
        """The topics ``token`` is subscribed to, every page, in FCM's order.

        No page is asked for after ``send_timeout``.

        :raises FCMRequestError: FCM refused a page (its ``code`` says why: ``UNREGISTERED``
            for a dead token, ``UNAVAILABLE``...).
        :raises FCMResponseError: a page that cannot be read, or a next-page token repeated.
        :raises requests.RequestException: a network failure, or ``send_timeout`` passed.
        :raises FCMAuthenticationError: the credentials were rejected.
        """
        base = self._base()
        token = check_token(token, "the registration token")
        call = Call(here, base, self._sender.timeout, self._sender.options)
        return self._pages(call, base, token)

    def _pages(self, call: Call, base: str, token: str) -> list[str]:
        found: list[str] = []
        page_token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._page(call, base, token, page_token)
            found.extend(page.topics)
            page_token = page.next_page_token
            if page_token is None:
                return found
            if page_token in seen:
                raise FCMResponseError("FCM gave a next-page token it had given before: the list loops")
            seen.add(page_token)
            if time.monotonic() >= call.started + self._sender.send_timeout:
                raise requests.Timeout(f"send_timeout passed while listing the topics of {prefix(token)}")

    def _page(self, call: Call, base: str, token: str, page_token: str | None) -> topics.Page:
        answer = call.answer(topics.list_page(base, token, page_token), "list topics of", token)
        if isinstance(answer, Outcome) and answer.error == ACCESS_TOKEN_EXPIRED:
            # Once more, with the fresh token the call now fetches.
            answer = call.answer(topics.list_page(base, token, page_token), "list topics of", token)
        if isinstance(answer, topics.Page):
            return answer
        raise FCMRequestError(
            f"FCM refused to list the topics of {prefix(token)}: {answer.error}: {answer.detail}",
            explanation=answer.detail or "",
            code=answer.error,
        )
