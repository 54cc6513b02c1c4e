"""The public API: :class:`FCM`, the connection, plus the message and result classes.

Code written for fcm-client 0.2 / gcm-client runs unchanged::

    from fcmclient import FCM, JSONMessage

    fcm = FCM(API_KEY)                      # legacy API key (Google shut this API down)
    fcm = FCM.from_service_account("service-account.json")   # HTTP v1: what works today
    result = fcm.send(JSONMessage(tokens, {"score": "3:1"}, message_title="Goal!"))
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import requests

from ._http.channel import Channel
from ._http.executor import NOT_SENT, fan_out, interrupted
from ._http.session import split_options, total_seconds
from ._protocol import legacy, v1
from ._protocol.encoding import check_credential
from ._protocol.legacy import FCM_URL
from ._protocol.v1 import V1_URL
from ._send.auth import AccessToken, Grant, TokenSource, grant_for
from ._send.resources import per_process
from .errors import FCMAuthenticationError, FCMError, FCMRequestError, FCMResponseError
from .messages import InstallationMessage, JSONMessage, Message, PlainTextMessage, TopicMessage
from .outcomes import Outcome
from .result import Result

__all__ = [
    "FCM_URL",
    "V1_URL",
    "FCM",
    "JSONMessage",
    "PlainTextMessage",
    "TopicMessage",
    "InstallationMessage",
    "Result",
    "FCMError",
    "FCMAuthenticationError",
    "FCMRequestError",
    "FCMResponseError",
]

log = logging.getLogger("fcmclient")

#: Concurrent HTTP v1 requests per :class:`FCM` when ``max_workers`` is not given.
DEFAULT_MAX_WORKERS = 64

#: Seconds after which an HTTP v1 multicast starts no new request (see ``send_timeout``).
DEFAULT_SEND_TIMEOUT = 120.0

_SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")
# Answers are a few dozen bytes: compressing them costs more than it saves. HTTP/1.1 keeps
# connections alive without being asked, and "Accept: */*" says nothing: both left out.
_V1_HEADERS: dict[str, str | None] = {
    "Content-Type": "application/json; charset=UTF-8",
    "Accept-Encoding": "identity",
    "Accept": None,
    "Connection": None,
}


def _prefix(token: str) -> str:
    return token[:8] + "..." if len(token) > 8 else token


def _stopped(exc: BaseException) -> Outcome:
    """The outcome of the target whose request stopped a v1 fan-out with ``exc``."""
    if isinstance(exc, FCMError):  # FCM refused this request: it was not delivered
        return Outcome.retry(NOT_SENT, f"not sent: {type(exc).__name__}")
    return interrupted(exc)


def _attach_result(exc: BaseException, result: Result) -> None:
    """Hand the partial result of an interrupted v1 multicast to whoever catches ``exc``.

    fcm-client's own errors always carry it as ``result``; any other exception (a
    ``KeyboardInterrupt``, a Celery soft time limit) gets it too, unless it has a ``result`` of
    its own.
    """
    if isinstance(exc, FCMError) or not hasattr(exc, "result"):
        with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
            exc.result = result  # type: ignore[attr-defined]


class _Bearer:
    """The headers of one v1 send, made again only when the access token changes."""

    __slots__ = ("_channel", "_current", "_tokens")

    def __init__(self, channel: Channel, tokens: TokenSource) -> None:
        self._channel = channel
        self._tokens = tokens
        self._current: tuple[AccessToken, dict[str, str]] | None = None

    def get(self) -> tuple[AccessToken, dict[str, str]]:
        """A valid token and the full request headers carrying it."""
        token = self._tokens.get()
        current = self._current
        if current is None or current[0] is not token:
            current = (token, self._channel.headers({"Authorization": "Bearer " + token.value}))
            self._current = current
        return current

    def expired(self, token: AccessToken) -> None:
        """FCM refused ``token`` as expired: the next :meth:`get` fetches another."""
        self._tokens.invalidate(token)


class FCM:
    """A connection to Firebase Cloud Messaging.

    Give an ``api_key`` for the legacy HTTP API, or ``credentials`` (or use
    :meth:`from_service_account`) for HTTP v1; the protocol follows from what was given, and
    the messages and :class:`Result` are the same for both.

    One :class:`FCM` keeps one pooled :class:`requests.Session` (keep-alive connections
    reused across sends), one cached access token and, for v1 multicasts, one thread pool.
    It is safe to share between threads, and across ``fork()``: a forked child (Celery's
    prefork pool, gunicorn, multiprocessing) sends on connections and threads of its own,
    keeping only the access token, and the parent is unaffected. It cannot be pickled:
    under spawn, make one per process. Nothing retries on its own: each target gets at most
    one request per :meth:`send`.

    How long a send can take, whatever the server does (answers slowly, never answers,
    or trickles its answer a byte at a time): each socket read waits at most the read
    timeout, and one request takes at most the connect timeout plus the read timeout in all
    (``timeout=10`` allows 20 s; ``(3, 7)`` allows 10 s), where requests alone would bound
    only each read. A legacy :meth:`send` is one request. An HTTP v1 :meth:`send` fetches an access token when
    needed (one request), then starts no new request after ``send_timeout``; so it returns
    within ``send_timeout`` plus twice the per-request bound (a token refresh and a send that
    started just before the deadline).

    TLS certificates are verified by default, against the CA bundle requests uses (certifi,
    or ``REQUESTS_CA_BUNDLE``). Pass ``verify="/path/to/ca.pem"`` to trust a private CA (an
    emulator or proxy with its own certificate); ``verify=False`` switches verification off
    and urllib3 warns on every request.

    :param api_key: the legacy server key.
    :param url: the send endpoint; defaults to :data:`FCM_URL` (legacy) or :data:`V1_URL`
        for ``project_id`` (v1; a ``{project_id}`` placeholder in ``url`` is filled in).
    :param backoff: the initial backoff in milliseconds, for :meth:`Result.delay`.
    :param credentials: google-auth credentials, for HTTP v1.
    :param project_id: the Firebase project (v1); defaults to the credentials' project.
    :param max_workers: at most this many requests of one v1 send in flight (default 64).
        Sends running side by side share the ``max_workers - 1`` helper threads, and each
        adds its calling thread.
    :param send_timeout: seconds after which a v1 multicast starts no new request; targets
        not yet sent go to :meth:`Result.retry` (default 120).
    :param options: requests options: ``timeout`` (seconds, or a ``(connect, read)`` pair;
        default 10 s, at most one hour (:data:`~fcmclient._http.session.MAX_TIMEOUT`); ``None``
        also means the default, never "no timeout"), ``proxies``, ``verify`` (``True`` by default; a CA
        bundle path, or ``False``) and ``cert``.
    :raises ValueError: neither or both of ``api_key`` and ``credentials``, an empty key, a
        key holding a character that cannot go in an HTTP header (whitespace, a line break,
        non-ASCII; the message says where, never what the key is), or a v1 connection with
        no project.
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
        if api_key is not None:
            check_credential(api_key, "the API key")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
        if not isinstance(send_timeout, (int, float)) or not send_timeout > 0:
            raise ValueError(f"send_timeout must be a positive number, got {send_timeout!r}")
        self._timeout, self._options = split_options(options)
        #: Initial backoff in milliseconds.
        self.backoff = backoff
        self.max_workers = max_workers
        self.send_timeout = float(send_timeout)
        self._api_key = api_key
        grant: Grant | None = None
        if credentials is None:
            #: ``"legacy"`` or ``"v1"``.
            self.protocol = "legacy"
            #: The Firebase project (v1), or ``None``.
            self.project_id = project_id
            #: The send endpoint.
            self.url = url or FCM_URL
        else:
            self.protocol = "v1"
            self.project_id = project_id or getattr(credentials, "project_id", None)
            template = url or V1_URL
            if not self.project_id and "{project_id}" in template:
                raise ValueError("HTTP v1 needs a project_id (or a url that names the project)")
            self.url = template.replace("{project_id}", self.project_id or "")
            grant = grant_for(credentials, self._timeout, self._options)
        # Sockets, threads, locks and the token cache, per process: a forked child makes its own.
        self._resources = per_process(max_workers, grant, total_seconds(self._timeout))

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
        if isinstance(path_or_info, Mapping):
            info = dict(path_or_info)
            where = "the service-account info"
        else:
            where = f"service-account file {os.fspath(path_or_info)!r}"
            with open(path_or_info, encoding="utf-8") as handle:
                try:
                    info = json.load(handle)
                except ValueError:
                    raise ValueError(f"{where} is not valid JSON") from None
            if not isinstance(info, dict):
                raise ValueError(f"{where} does not hold a JSON object")
        if info.get("type") != "service_account":
            raise ValueError(f"{where} is not a service-account key (type is {info.get('type')!r})")
        missing = [
            name for name in _SERVICE_ACCOUNT_FIELDS if not isinstance(info.get(name), str) or not info[name]
        ]
        project_id = kwargs.pop("project_id", None) or info.get("project_id")
        if not project_id:
            missing.append("project_id")
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}")
        from google.oauth2 import service_account

        try:
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[v1.SCOPE]
            )
        except (ValueError, TypeError, IndexError):
            raise ValueError(f"{where} has a private_key that is not a usable PEM RSA key") from None
        return cls(credentials=credentials, project_id=project_id, **kwargs)

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

        Like a closed :class:`requests.Session`, a closed ``FCM`` still works: a later
        :meth:`send` opens new connections (and worker threads) as it needs them, to be
        let go by the next ``close()``.
        """
        self._resources.get().close()

    @property
    def api_key(self) -> str | None:
        """The legacy server key given to the constructor (``None`` on HTTP v1), as in
        fcm-client 0.2. It is never shown in ``repr``, logs or exceptions."""
        return self._api_key

    @property
    def session(self) -> requests.Session:
        """The :class:`requests.Session` every request of this ``FCM`` goes through.

        Mount a transport adapter of your own on it, or hand it to a recorder such as betamax
        (``Betamax(fcm.session)``), and every request (sends and token fetches alike) goes
        through that adapter. Changing its headers or settings is not supported. It belongs to
        the current process: a forked child gets a session of its own, with the adapters you
        mounted on its parent's.
        """
        return self._resources.get().session

    @property
    def requests_options(self) -> dict[str, Any]:
        """The requests options every send uses, ``timeout`` included (a copy; as in
        fcm-client 0.2, where it was the constructor's ``**options``)."""
        return {"timeout": self._timeout, **self._options}

    @property
    def token_fetches(self) -> int:
        """How many OAuth2 access tokens this connection has fetched in this process (0 for
        legacy; a forked child starts from 0, with its parent's token)."""
        tokens = self._resources.get().tokens
        return tokens.fetches if tokens is not None else 0

    def send(self, message: Message) -> Result:
        """Send ``message`` and report what happened to each target.

        On the legacy API this is one request. On HTTP v1 it is one request per target,
        at most ``max_workers`` at a time; a transport failure of one target's request
        (timeout, reset) puts that target in :meth:`Result.retry`.

        Once a status line has arrived, the status decides: a body that cannot be read
        (cut short, undecodable, over the size cap) counts as a malformed answer.

        :raises requests.RequestException: legacy: a network problem before FCM's status
            line arrived (``requests.Timeout`` when the time ran out); v1: the access token
            could not be fetched before anything was sent (a network problem or an outage
            of the token endpoint). When a refresh fails in the middle of a multicast, the
            targets not yet sent go to :meth:`Result.retry` instead, so what was sent is
            never lost.
        :raises FCMRequestError: legacy: FCM rejected the request (400) or answered an
            unexpected status (a redirect included: none is followed).
        :raises FCMAuthenticationError: the credentials were rejected. For a v1 multicast,
            the exception's ``result`` holds what was settled before, with every target not
            yet sent in ``retry()``.
        :raises FCMResponseError: legacy: a malformed or unreadable 200 answer.
        :raises TypeError: ``message`` is not a message, or v1 cannot translate it
            (``time_to_live`` not an int).
        :raises ValueError: an :class:`InstallationMessage` on the legacy API.

        An interruption of a v1 multicast (``KeyboardInterrupt``, a Celery soft time limit)
        starts no new request, waits for the requests under way (each bounded by the
        timeout), and is re-raised with the partial :class:`Result` as its ``result``
        attribute: targets never sent are in ``retry()`` with error ``NOT_SENT``, and a
        target whose request the interruption cut is there with ``INTERRUPTED`` (it may have
        been delivered). A second interruption stops that wait and is raised at once, with
        the result as it stands: the targets whose requests are still under way are in
        ``retry()`` as ``INTERRUPTED`` too.
        """
        if not isinstance(message, Message):
            raise TypeError(
                f"send() takes a JSONMessage, PlainTextMessage, TopicMessage or InstallationMessage, "
                f"not {type(message).__name__}"
            )
        if self.protocol == "legacy":
            return self._send_legacy(message)
        return self._send_v1(message)

    def _send_legacy(self, message: Message) -> Result:
        content_type, body = legacy.encode(message)
        targets = message.targets
        log.debug("legacy send to %d target(s), first %s", len(targets), _prefix(targets[0]))
        headers = {"Authorization": f"key={self._api_key}", "Content-Type": content_type}
        here = self._resources.get()
        channel = Channel(here.session, self.url, headers, self._timeout, self._options)
        try:
            reply = channel.post(body, channel.headers({}))
        finally:
            channel.release()
        decoded = legacy.decode(message, reply.status, reply.headers, reply.body, time.time())
        log.debug("legacy answer HTTP %d for %d target(s)", reply.status, len(targets))
        return Result._from_legacy(message, decoded, self.backoff, here.rng)

    def _send_v1(self, message: Message) -> Result:
        here = self._resources.get()
        assert here.tokens is not None
        translation = v1.Translation(message, time.time())
        targets = message.targets
        started = time.monotonic()
        here.tokens.get()  # surface credential problems once, before any send
        channel = Channel(here.session, self.url, _V1_HEADERS, self._timeout, self._options)
        bearer = _Bearer(channel, here.tokens)
        token_failure: list[Outcome] = []

        def one(target: str) -> Outcome:
            if token_failure:  # no token to send with: report the rest as not sent
                return token_failure[0]
            try:
                return self._send_v1_one(channel, bearer, translation.body(target), target, started)
            except requests.RequestException as exc:  # a refresh failed mid-send
                log.warning("access token refresh failed in the middle of a send: %s", type(exc).__name__)
                cause = Outcome.transport_error(exc).detail
                detail = f"not sent: the access token could not be fetched ({cause})"
                token_failure.append(Outcome.retry(NOT_SENT, detail))
                return token_failure[0]

        pool = here.worker_pool() if len(targets) > 1 else None
        deadline = started + self.send_timeout
        # The documented bound: a request started just before send_timeout may need a token
        # refresh first. No wait for the helper threads outlasts it (a broken pool included).
        bound = deadline + 2 * total_seconds(self._timeout)
        outcomes, error = fan_out(
            targets, one, pool, self.max_workers, deadline, time.monotonic, _stopped, channel.release, bound
        )
        result = Result.from_outcomes(message, outcomes, self.backoff, rng=here.rng)
        if error is not None:
            _attach_result(error, result)
            raise error
        return result

    def _send_v1_one(
        self, channel: Channel, bearer: _Bearer, body: bytes, target: str, started: float
    ) -> Outcome:
        token, headers = bearer.get()
        try:
            reply = channel.post(body, headers)
        except requests.RequestException as exc:
            log.debug("v1 send to %s failed in transport: %s", _prefix(target), type(exc).__name__)
            return Outcome.transport_error(exc)
        outcome = v1.decode(reply.status, reply.headers, reply.body, time.time())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("v1 send to %s: HTTP %d %s", _prefix(target), reply.status, outcome.bucket.value)
        if outcome.error == v1.ACCESS_TOKEN_EXPIRED:
            bearer.expired(token)
            if token.fetched_at >= started:
                raise FCMAuthenticationError(
                    "FCM refused a freshly fetched access token as expired; check the machine's clock",
                    status=401,
                    code="UNAUTHENTICATED",
                )
        return outcome
