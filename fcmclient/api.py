"""The public API: :class:`FCM`, the connection, plus the message and result classes.

Code written for fcm-client 0.2 / gcm-client runs unchanged::

    from fcmclient import FCM, JSONMessage

    fcm = FCM(API_KEY)                      # legacy API key (Google shut this API down)
    fcm = FCM.from_service_account("service-account.json")   # HTTP v1: what works today
    result = fcm.send(JSONMessage(tokens, {"score": "3:1"}, message_title="Goal!"))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests

from ._checks import positive_int, seconds
from ._http.session import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._http.session import MAX_RESPONSE_BYTES as MAX_RESPONSE_BYTES
from ._http.session import MAX_TIMEOUT as MAX_TIMEOUT
from ._http.session import split_options, total_seconds
from ._protocol.encoding import check_credential
from ._protocol.legacy import FCM_URL
from ._protocol.v1 import V1_URL
from ._send.auth import grant_for, service_account
from ._send.each import Each, replace_results
from ._send.legacy import LegacySender
from ._send.resources import per_process
from ._send.topics import TopicSender
from ._send.v1 import V1Sender
from .errors import (
    FCMAuthenticationError,
    FCMError,
    FCMRequestError,
    FCMResponseError,
    FCMUnsupportedError,
)
from .messages import InstallationMessage, JSONMessage, Message, PlainTextMessage, TopicMessage
from .result import Result, TopicResult

__all__ = [
    "FCM_URL",
    "V1_URL",
    "FCM",
    "JSONMessage",
    "PlainTextMessage",
    "TopicMessage",
    "InstallationMessage",
    "Result",
    "TopicResult",
    "FCMError",
    "FCMAuthenticationError",
    "FCMRequestError",
    "FCMResponseError",
    "FCMUnsupportedError",
]

#: Concurrent HTTP v1 requests per :class:`FCM` when ``max_workers`` is not given: the knee
#: of the measured throughput at a 20 ms round trip (``docs/architecture.rst``).
DEFAULT_MAX_WORKERS = 256

#: Seconds after which an HTTP v1 multicast starts no new request (see ``send_timeout``).
DEFAULT_SEND_TIMEOUT = 120.0


class FCM:
    """A connection to Firebase Cloud Messaging, through the legacy API or HTTP v1.

    Give an ``api_key`` (legacy), or ``credentials`` or :meth:`from_service_account` (v1);
    the messages and the :class:`Result` are the same for both. Make one per process and share
    it between threads; it stays safe across ``fork()`` (a child sends on connections and
    threads of its own). Nothing retries on its own, and every send is bounded in time
    (:doc:`/guarantees`).

    :param api_key: the legacy server key.
    :param url: the send endpoint; defaults to :data:`FCM_URL` (legacy) or :data:`V1_URL`
        (v1, where a ``{project_id}`` placeholder is filled in).
    :param backoff: the initial backoff in milliseconds, for :meth:`Result.delay`.
    :param credentials: google-auth credentials, for HTTP v1.
    :param project_id: the Firebase project (v1); defaults to the credentials' project.
    :param max_workers: at most this many requests of one v1 send in flight (default 256; on
        requests' path, under a test double, a proxy or gevent, at most 64 threads).
    :param send_timeout: seconds after which a v1 send starts no new request (default 120);
        the targets not sent by then are in :meth:`Result.retry`.
    :param options: requests options: ``timeout`` (seconds or a ``(connect, read)`` pair;
        default :data:`DEFAULT_TIMEOUT`, at most :data:`MAX_TIMEOUT`; ``None`` means the
        default, never "no timeout"), ``proxies``, ``verify`` and ``cert``.
    :raises ValueError: neither or both of ``api_key`` and ``credentials``; a key that cannot
        go in an HTTP header (the message says where, never what the key is); a v1
        connection with no project; a ``max_workers``, ``send_timeout`` or ``timeout`` out of
        range.
    :raises TypeError: an unknown option, or a key that is not a str.

    >>> fcm = FCM("my-server-key")
    >>> fcm
    <FCM legacy url='https://fcm.googleapis.com/fcm/send'>
    >>> fcm.close()
    """

    #: Initial backoff in milliseconds (fcm-client 0.2 name).
    INITIAL_BACKOFF = 1000

    def __init__(
        self,
        api_key: str | None = None,
        url: str | None = None,
        backoff: int = INITIAL_BACKOFF,
        *,
        credentials: Any = None,
        project_id: str | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        **options: Any,
    ) -> None:
        if credentials is not None and api_key is not None:
            raise ValueError("give either api_key (legacy) or credentials (HTTP v1), not both")
        if credentials is None and not api_key:
            raise ValueError("an API key (legacy) or credentials (HTTP v1) are required")
        self._timeout, self._options = split_options(options)
        #: Initial backoff in milliseconds.
        self.backoff = backoff
        self.max_workers = positive_int(max_workers, "max_workers")
        self.send_timeout = seconds(send_timeout, "send_timeout")
        self._api_key = api_key
        self._topics: TopicSender | None = None  # v1 only
        #: The Firebase project (v1), or ``None``.
        self.project_id = project_id or getattr(credentials, "project_id", None)
        #: ``"legacy"`` or ``"v1"``.
        self.protocol = "legacy" if api_key is not None else "v1"
        self._sender = self._legacy(api_key, url) if api_key is not None else self._v1(url)
        grant = None if credentials is None else grant_for(credentials, self._timeout, self._options)
        # Sockets, threads, locks and the token cache, per process: a forked child makes its own.
        self._resources = per_process(self.max_workers, grant, total_seconds(self._timeout))

    def _legacy(self, api_key: str, url: str | None) -> LegacySender:
        key = check_credential(api_key, "the API key")
        return LegacySender(
            key,
            url or FCM_URL,
            self._timeout,
            self._options,
            self.backoff,
            self.max_workers,
            self.send_timeout,
        )

    def _v1(self, url: str | None) -> V1Sender:
        template = url or V1_URL
        if not self.project_id and "{project_id}" in template:
            raise ValueError("HTTP v1 needs a project_id (or a url that names the project)")
        url = template.replace("{project_id}", self.project_id or "")
        timeout, options = self._timeout, self._options
        sender = V1Sender(url, timeout, options, self.backoff, self.max_workers, self.send_timeout)
        self._topics = TopicSender(sender)
        return sender

    @classmethod
    def from_service_account(
        cls, path_or_info: str | os.PathLike[str] | Mapping[str, Any], **kwargs: Any
    ) -> FCM:
        """An HTTP v1 connection from a service-account key file (a path, or the parsed dict).

        The project comes from the file unless ``project_id=`` is given; the file's
        ``token_uri`` is honoured. Other keyword arguments go to :class:`FCM`.

        :raises ValueError: the file is not JSON, not a service account, misses a field or
            holds an unusable private key (the message names the problem, never the key).
        :raises OSError: the file cannot be read.
        """
        credentials, project_id = service_account(path_or_info, kwargs.pop("project_id", None))
        return cls(credentials=credentials, project_id=project_id, **kwargs)

    @property
    def url(self) -> str:
        """The send endpoint."""
        return self._sender.url

    def __repr__(self) -> str:
        project = f" project={self.project_id!r}" if self.protocol == "v1" else ""
        return f"<FCM {self.protocol}{project} url={self.url!r}>"

    def __reduce__(self) -> Any:
        raise TypeError(
            "FCM holds credentials and a connection pool and cannot be pickled; "
            "pickle the message instead and build one FCM per process"
        )

    def __enter__(self) -> FCM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections and stop the worker threads of this process. Idempotent.

        Like a closed :class:`requests.Session`, a closed ``FCM`` still works: a later send
        opens what it needs again.
        """
        self._resources.get().close()

    @property
    def api_key(self) -> str | None:
        """The legacy server key (``None`` on HTTP v1), as in fcm-client 0.2; never shown in
        ``repr``, logs or exceptions."""
        return self._api_key

    @property
    def session(self) -> requests.Session:
        """The :class:`requests.Session` every request of this ``FCM`` goes through, in this process.

        Mount a transport adapter on it, or hand it to a recorder (``Betamax(fcm.session)``),
        and every request goes through that adapter; a forked child's session keeps the
        adapters mounted on its parent's. Changing its headers or settings is not supported;
        it keeps no cookie.
        """
        return self._resources.get().session

    @property
    def requests_options(self) -> dict[str, Any]:
        """The requests options every send uses, ``timeout`` included (a copy; as in
        fcm-client 0.2, where it was the constructor's ``**options``)."""
        return {"timeout": self._timeout, **self._options}

    @property
    def token_fetches(self) -> int:
        """How many OAuth2 access tokens were fetched in this process (0 for legacy)."""
        tokens = self._resources.get().tokens
        return tokens.fetches if tokens is not None else 0

    def send(self, message: Message) -> Result:
        """Send ``message`` and report what happened to each target.

        Legacy: one request. HTTP v1: one request per target, at most ``max_workers`` at a
        time, none started after ``send_timeout``; a target whose request failed in the
        network, or was never sent, is in :meth:`Result.retry`. Once FCM's status arrived,
        the status decides. :doc:`/results` and :doc:`/guarantees` tell the rest.

        :raises requests.RequestException: legacy: no answer arrived; v1: the first access
            token could not be fetched (nothing was sent).
        :raises FCMRequestError: legacy: FCM rejected the request (400, an unexpected status).
        :raises FCMAuthenticationError: the credentials were rejected; for v1, with what was
            settled as ``result`` (the targets not sent in its ``retry()``).
        :raises FCMResponseError: legacy: an unreadable 200 answer.
        :raises TypeError: not a message, or v1 cannot translate it.
        :raises ValueError: an :class:`InstallationMessage` on the legacy API.

        An interruption of a v1 send (``KeyboardInterrupt``, a Celery soft time limit) is
        re-raised with the partial result as its ``result``: never-sent targets are in
        ``retry()`` as ``NOT_SENT``, those cut in flight as ``INTERRUPTED``.
        """
        if not isinstance(message, Message):
            raise TypeError(
                f"send() takes a JSONMessage, PlainTextMessage, TopicMessage or InstallationMessage, "
                f"not {type(message).__name__}"
            )
        return self._sender.send(message, self._resources.get())

    def send_each(self, messages: Iterable[Message]) -> list[Result]:
        """Send many different messages at once; one :class:`Result` per message, in input order.

        ``results[i]`` is the result :meth:`send` gives ``messages[i]``, but every target of
        every message shares one fan-out: at most ``max_workers`` requests in flight in all,
        none started after ``send_timeout`` (counted from the call), each message translated
        once. A legacy request that fails as a whole does not stop the others: its targets
        are in ``retry()`` (a network failure) or ``failed`` (a refused request, an
        unreadable answer). Any iterable of messages; an empty one gives ``[]``. It holds
        every message and result: for millions, read them as they come with
        :meth:`send_each_iter`.

        :raises TypeError: a non-message, or one v1 cannot translate (in a list or tuple:
            before anything is sent; in another iterable: when it is reached).
        :raises ValueError: an :class:`InstallationMessage` on the legacy API (likewise).
        :raises requests.RequestException: v1, the first access token could not be fetched.

        Once sending has started, any exception that stops it (the credentials rejected, a
        mistake in an iterable, an exception the iterable raises, an interruption) carries
        ``results``: one result per message read, in input order (the targets not sent in
        ``retry()`` as ``NOT_SENT``, those cut in flight as ``INTERRUPTED``); a list's or
        tuple's messages all have one. The requests under way when the iterable raises are
        waited for, as on a first interruption.
        """
        collected: list[Result] = []
        run = Each(self._sender, messages, self._resources.get())
        try:
            collected.extend(run.results())
        except BaseException as exc:
            pending = run.unaccounted() if run.stopped_by is not exc else getattr(exc, "results", [])
            replace_results(exc, collected + pending)
            raise
        return collected

    def send_each_iter(self, messages: Iterable[Message]) -> Iterator[Result]:
        """:meth:`send_each`, yielding each message's result in input order as its window of
        messages is done, in bounded memory: one window (``64 * max_workers`` targets, 16,384
        by default) of messages at a time, a generator never read ahead of that. On the
        fan-out engine a window's first requests leave once ``max_workers`` targets of it
        are read, the rest joining them as they are read.

        Raises as :meth:`send_each`; an exception's ``results`` then holds the results not
        yet yielded.
        """
        return Each(self._sender, messages, self._resources.get()).results()

    def _topic_sender(self) -> TopicSender:
        if self._topics is None:
            raise FCMUnsupportedError(
                "topic management needs HTTP v1: this FCM uses the legacy API (an api_key); "
                "make one with FCM.from_service_account() or credentials="
            )
        return self._topics

    def subscribe_to_topic(self, tokens: str | Iterable[str], topic: str) -> TopicResult:
        """Subscribe registration tokens to ``topic``; what happened to each, as a :class:`TopicResult`.

        firebase-admin's name and argument order. One HTTP v1 request per token, sent as a
        multicast's targets are (at most ``max_workers`` in flight, none started after
        ``send_timeout``, every request bounded, nothing retried on its own). A token already
        subscribed is a success. :doc:`/topics` tells the rest.

        :param tokens: one token, or an iterable of them (duplicates are sent once).
        :param topic: the topic name, with or without ``/topics/``; it must match
            ``[a-zA-Z0-9-_.~%]{1,900}``.
        :raises TypeError: a token or topic that is not a str (nothing is sent).
        :raises ValueError: no token, an empty one, or an invalid topic name (nothing is sent).
        :raises FCMUnsupportedError: a legacy ``FCM`` (topic management needs HTTP v1), or a
            v1 ``url`` that does not end in ``/messages:send`` (nothing is sent).
        :raises requests.RequestException: the first access token could not be fetched.
        :raises FCMAuthenticationError: the credentials were rejected, with what was settled
            as ``result`` (the tokens not sent in its ``retry()``).

        An interruption (``KeyboardInterrupt``, a Celery soft time limit) is re-raised with
        the partial result as its ``result``, as for :meth:`send`.
        """
        return self._topic_sender().change("subscribe", tokens, topic, self._resources.get())

    def unsubscribe_from_topic(self, tokens: str | Iterable[str], topic: str) -> TopicResult:
        """Unsubscribe registration tokens from ``topic``: as :meth:`subscribe_to_topic`.

        A token that was not subscribed is a success (FCM is asked with ``allowMissing``: the
        wanted state holds); a dead token is in ``not_registered``.
        """
        return self._topic_sender().change("unsubscribe", tokens, topic, self._resources.get())

    def topic_subscriptions(self, token: str) -> list[str]:
        """The names of the topics ``token`` is subscribed to (every page of FCM's list).

        :raises FCMRequestError: FCM refused the list; its ``code`` says why (``UNREGISTERED``:
            a dead token; ``UNAVAILABLE``, ``INTERNAL``, ``QUOTA_EXCEEDED``: try later).
        :raises FCMResponseError: an answer that cannot be read.
        :raises requests.RequestException: a network failure, or ``send_timeout`` passed.
        :raises FCMUnsupportedError: as :meth:`subscribe_to_topic`.
        :raises FCMAuthenticationError: the credentials were rejected.
        :raises TypeError, ValueError: ``token`` is not a non-empty str.
        """
        return self._topic_sender().subscriptions(token, self._resources.get())
