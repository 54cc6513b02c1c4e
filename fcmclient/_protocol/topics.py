"""FCM's topic subscription API as pure functions: names, URLs, requests and their answers.

One request per registration token and topic, under the v1 send endpoint's project
(``.../v1/projects/{p}/registrations/{token}/topicSubscriptions``), with the send's OAuth2
bearer token:

- subscribe: ``POST .../topicSubscriptions?topicName=T`` with ``{}``; 200 the new
  subscription, 409 ``ALREADY_EXISTS`` when it existed (a success here: the wanted state holds);
- unsubscribe: ``DELETE .../topicSubscriptions/T?allowMissing=true``; 200 ``{}``, also when
  the token was not subscribed (``allowMissing``: FCM itself calls it done);
- list: ``GET .../topicSubscriptions?pageSize=2000&pageToken=P``; a page of subscriptions
  and the next page's token.

Errors have the shape of a v1 send's and are read by :func:`fcmclient._protocol.v1.error_outcome`
(404 ``UNREGISTERED``: a dead token; 429 and 5xx: retry, with ``Retry-After``; other 4xx:
failed). The JSON field names come in lowerCamelCase (Google's front end) or snake_case
(Firebase's reference pages): both are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from ..errors import FCMResponseError
from ..outcomes import INVALID_RESPONSE, Bucket, Outcome
from .encoding import loads, snippet
from .exchange import Exchange
from .v1 import error_outcome

__all__ = [
    "MAX_TOPIC_LENGTH",
    "PAGE_SIZE",
    "Page",
    "decode_page",
    "decode_subscribe",
    "decode_unsubscribe",
    "list_page",
    "quote_segment",
    "registrations_url",
    "subscribe",
    "topic_name",
    "unsubscribe",
]

#: The longest topic name FCM accepts.
MAX_TOPIC_LENGTH = 900

#: Subscriptions asked for per page of a list: FCM's maximum (a token has at most 2,000).
PAGE_SIZE = 2000

_TOPIC_CHARACTERS = re.compile(r"[a-zA-Z0-9\-_.~%]+")
_SEND_PATH = "/messages:send"
#: Characters ``quote(value, safe="")`` leaves as they are, and ``:``, which it quotes.
_PLAIN = re.compile(r"[A-Za-z0-9_.~\-:]*")
_ALREADY_EXISTS = frozenset({"ALREADY_EXISTS", "HTTP_409"})
#: A subscription made, or removed: a success with no message id (no message was sent).
_DONE = Outcome(Bucket.SUCCESS)


class Page(NamedTuple):
    """One page of a token's subscriptions: topic names, and the next page's token or ``None``."""

    topics: list[str]
    next_page_token: str | None


def topic_name(topic: object) -> str:
    """The topic name to subscribe to, without a ``/topics/`` prefix.

    :raises TypeError: ``topic`` is not a str.
    :raises ValueError: it does not match ``[a-zA-Z0-9-_.~%]{1,900}`` (the message says why).

    >>> topic_name("/topics/news")
    'news'
    >>> topic_name("breaking news")
    Traceback (most recent call last):
    ...
    ValueError: topic 'breaking news': ' ' at position 8 is not allowed (only a-z A-Z 0-9 - _ . ~ %)
    """
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, got {type(topic).__name__}")
    name = topic.removeprefix("/topics/")
    shown = repr(topic[:60] + "..." if len(topic) > 60 else topic)
    if not name:
        raise ValueError(f"topic {shown} is empty: a topic name has 1 to {MAX_TOPIC_LENGTH} characters")
    if len(name) > MAX_TOPIC_LENGTH:
        raise ValueError(f"topic {shown} has {len(name)} characters, {MAX_TOPIC_LENGTH} at most")
    if not _TOPIC_CHARACTERS.fullmatch(name):
        position, char = next((i, c) for i, c in enumerate(name) if not _TOPIC_CHARACTERS.fullmatch(c))
        raise ValueError(
            f"topic {shown}: {char!r} at position {position} is not allowed (only a-z A-Z 0-9 - _ . ~ %)"
        )
    return name


def registrations_url(send_url: str) -> str | None:
    """The registrations collection of a v1 send URL's project, or ``None`` when the URL does
    not end in ``/messages:send`` (nothing says where its subscription API is).

    >>> registrations_url("https://fcm.googleapis.com/v1/projects/demo/messages:send")
    'https://fcm.googleapis.com/v1/projects/demo/registrations'
    """
    if not send_url.endswith(_SEND_PATH):
        return None
    return send_url[: -len(_SEND_PATH)] + "/registrations"


def quote_segment(value: str) -> str:
    """``value`` as one URL path segment or query value: ``urllib.parse.quote(value, safe="")``.

    A registration token is letters, digits, ``-``, ``_`` and one ``:``: those take a fast
    path that gives the same text.

    >>> quote_segment("dX3k:APA91b-x_y"), quote_segment("a/b?c#d%e")
    ('dX3k%3AAPA91b-x_y', 'a%2Fb%3Fc%23d%25e')
    """
    if _PLAIN.fullmatch(value):
        return value.replace(":", "%3A")
    return quote(value, safe="")


def _collection(registrations: str, token: str) -> str:
    return f"{registrations}/{quote_segment(token)}/topicSubscriptions"


def subscribe(registrations: str, token: str, topic: str) -> Exchange[Outcome]:
    """Subscribe ``token`` to ``topic`` (a name :func:`topic_name` accepted)."""
    url = f"{_collection(registrations, token)}?topicName={quote_segment(topic)}"
    return Exchange("POST", url, b"{}", decode_subscribe)


def unsubscribe(registrations: str, token: str, topic: str) -> Exchange[Outcome]:
    """Unsubscribe ``token`` from ``topic``; not being subscribed is no error (``allowMissing``)."""
    url = f"{_collection(registrations, token)}/{quote_segment(topic)}?allowMissing=true"
    return Exchange("DELETE", url, b"", decode_unsubscribe)


def list_page(registrations: str, token: str, page_token: str | None) -> Exchange[Page | Outcome]:
    """Read one page of ``token``'s subscriptions (the first when ``page_token`` is ``None``)."""
    url = f"{_collection(registrations, token)}?pageSize={PAGE_SIZE}"
    if page_token is not None:
        url += f"&pageToken={quote_segment(page_token)}"
    return Exchange("GET", url, b"", decode_page)


def _document(body: bytes) -> dict[str, Any] | None:
    try:
        document = loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _done(body: bytes, what: str) -> Outcome:
    """A 200: done, if the answer is a JSON object (anything else is not FCM's answer)."""
    if _document(body) is None:
        detail = f"HTTP 200 to {what} that is not a JSON object: {snippet(body)!r}"
        return Outcome.failed(INVALID_RESPONSE, detail=detail)
    return _DONE


def decode_subscribe(status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
    """Read the answer to :func:`subscribe`: success for 200, and for 409 ``ALREADY_EXISTS``.

    :raises FCMAuthenticationError: as :func:`~fcmclient._protocol.v1.error_outcome`.
    """
    if status == 200:
        return _done(body, "a subscription")
    outcome = error_outcome(status, headers, body, now)
    if status == 409 and outcome.error in _ALREADY_EXISTS:
        return _DONE
    return outcome


def decode_unsubscribe(status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
    """Read the answer to :func:`unsubscribe`: success for 200.

    :raises FCMAuthenticationError: as :func:`~fcmclient._protocol.v1.error_outcome`.
    """
    if status == 200:
        return _done(body, "an unsubscription")
    return error_outcome(status, headers, body, now)


def _field(document: Mapping[str, Any], camel: str, snake: str) -> Any:
    return document[camel] if camel in document else document.get(snake)


def _subscription_topic(item: object) -> str:
    if isinstance(item, dict):
        name = _field(item, "topicName", "topic_name")
        if isinstance(name, str) and name:
            return name
        resource = item.get("name")
        if isinstance(resource, str) and "/topicSubscriptions/" in resource:
            return resource.rpartition("/topicSubscriptions/")[2]
    raise FCMResponseError(f"a listed subscription without a topic name: {snippet(repr(item).encode())!r}")


def decode_page(status: int, headers: Mapping[str, str], body: bytes, now: float) -> Page | Outcome:
    """Read the answer to :func:`list_page`: the page for 200, else the error's outcome.

    :raises FCMResponseError: a 200 that is not a page of subscriptions.
    :raises FCMAuthenticationError: as :func:`~fcmclient._protocol.v1.error_outcome`.
    """
    if status != 200:
        return error_outcome(status, headers, body, now)
    document = _document(body)
    if document is None:
        raise FCMResponseError(f"HTTP 200 to a list that is not a JSON object: {snippet(body)!r}")
    items = _field(document, "topicSubscriptions", "topic_subscriptions") or []
    if not isinstance(items, list):
        raise FCMResponseError(f"the subscriptions of a list are not a list: {snippet(body)!r}")
    following = _field(document, "nextPageToken", "next_page_token")
    if following is not None and not isinstance(following, str):
        raise FCMResponseError(f"a list's next page token is not a string: {snippet(body)!r}")
    return Page([_subscription_topic(item) for item in items], following or None)
