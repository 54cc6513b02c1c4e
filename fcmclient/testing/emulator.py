"""The public :class:`FCMEmulator`: a local FCM server for end-to-end tests."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from ._answers import Answer, check_seconds, check_send_outcome, check_token_outcome
from ._app import EmulatorApp
from ._http import HTTPServer
from ._oauth import AuthRegistry
from ._records import EmulatorStats, RecordedRequest
from ._state import EmulatorState
from ._subscriptions import MAX_TOPICS_PER_REGISTRATION, SubscriptionStore
from ._topics import subscription_topic_problem

__all__ = ["FCMEmulator"]

_DEFAULT_RANDOM_OUTCOMES: tuple[Answer | str, ...] = ("unavailable", "internal", "drop")


def _bare_topic(topic: str) -> str:
    return topic.removeprefix("/topics/")


class FCMEmulator:
    """A Firebase Cloud Messaging server on 127.0.0.1 speaking legacy HTTP and HTTP v1.

    It serves ``POST /fcm/send`` (legacy, ``Authorization: key=...``),
    ``POST /v1/projects/{project_id}/messages:send`` (v1, bearer tokens from its own
    token endpoint), the topic subscription API under
    ``/v1/projects/{project_id}/registrations/{token}/topicSubscriptions`` (same bearer
    tokens) and ``POST /token`` (OAuth2 JWT-bearer grant), from an asyncio event loop in a
    background thread. Every method may be called from any thread.

    What each send does is scripted per target with :meth:`set_outcome`; delivered
    messages land in :meth:`inbox`. Targets are keyed as follows: a token (or v1 ``fid``)
    by itself, a topic as ``"/topics/NAME"`` (for both protocols, v1 ``topic: "NAME"``
    included), a condition by its exact string. A delivered topic or condition send also
    lands in the inbox of every token subscribed (:meth:`subscribers`): a v1 send in its
    project, a legacy send in any project.

    Example::

        from fcmclient.testing import FCMEmulator, Answer

        with FCMEmulator() as emu:
            info = emu.service_account_info("demo")   # a key file for google-auth
            emu.set_outcome("token-1", Answer.unavailable(retry_after=1), "delivered")
            ...  # point the client at emu.v1_url("demo") / emu.legacy_url
            assert emu.inbox("token-1")[0]["data"] == {"k": "v"}
            emu.subscribe("token-2", "news")  # or through the REST API
            ...  # send to topic "news" or "'news' in topics && !('sport' in topics)"
            assert emu.inbox("token-2")[0]["topic"] == "news"

    :param host: the IP address to listen on (a name resolving to several addresses
        would bind several ports when ``port`` is 0).
    :param port: the port; 0 (the default) picks a free one.
    :param latency: seconds to wait before answering each send or topic request.
    :param token_lifetime: seconds an issued access token stays valid.
    :param ssl_context: serve HTTPS with this server-side context.
    :param api_key: the legacy server key; a random one when not given.
    :param default_outcome: the outcome for sends with nothing scripted.
    :param history_limit: how many recorded requests, and inbox messages in all, to keep
        (each pair costs about 3 KB, so the default caps it near 300 MB under load).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        token_lifetime: float = 3600,
        ssl_context: ssl.SSLContext | None = None,
        api_key: str | None = None,
        default_outcome: Answer | str = "delivered",
        history_limit: int = 100_000,
    ) -> None:
        if history_limit < 1:
            raise ValueError("history_limit must be at least 1")
        self._host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._token_lifetime = check_seconds("token_lifetime", token_lifetime)
        self._api_key = api_key if api_key is not None else "emu-" + secrets.token_urlsafe(30)
        self._state = EmulatorState(
            check_send_outcome(default_outcome),
            history_limit=history_limit,
            latency=check_seconds("latency", latency),
        )
        self._auth = AuthRegistry()
        self._subscriptions = SubscriptionStore()
        self._app = EmulatorApp(
            self._state,
            self._auth,
            self._subscriptions,
            api_key=self._api_key,
            token_lifetime=self._token_lifetime,
            token_uri=lambda: self.token_uri,
        )
        self._server = HTTPServer(
            self._app.handle,
            host=host,
            port=port,
            ssl_context=ssl_context,
            on_open=self._state.connection_opened,
            on_close=self._state.connection_closed,
        )

    def __repr__(self) -> str:
        where = self.url if self._server.port is not None else f"{self._host}:unbound"
        status = "running" if self._server.running else "stopped"
        return f"<FCMEmulator {where} {status}>"

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> FCMEmulator:
        """Start serving in a background thread (no-op if running); returns ``self``.

        :raises OSError: if the address cannot be bound.
        """
        self._server.start()
        return self

    def stop(self) -> None:
        """Close the listener and all connections and join the thread (idempotent)."""
        self._server.stop()

    def __enter__(self) -> FCMEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._server.running

    # Addresses ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the emulator listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (still readable after :meth:`stop`).

        :raises RuntimeError: before the first :meth:`start`.
        """
        port = self._server.port
        if port is None:
            raise RuntimeError("the emulator has not been started; call start() first")
        return port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT`` (``https`` with an SSL context)."""
        scheme = "https" if self._ssl_context is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}"

    @property
    def legacy_url(self) -> str:
        """The legacy send URL, ``{url}/fcm/send``."""
        return f"{self.url}/fcm/send"

    def v1_url(self, project_id: str = "demo") -> str:
        """The v1 send URL for a project.

        :param project_id: the project in the path.
        """
        return f"{self.url}/v1/projects/{project_id}/messages:send"

    @property
    def token_uri(self) -> str:
        """The OAuth2 token endpoint, ``{url}/token``."""
        return f"{self.url}/token"

    @property
    def api_key(self) -> str:
        """The legacy server key expected in ``Authorization: key=...``."""
        return self._api_key

    @property
    def token_lifetime(self) -> float:
        """Seconds an issued access token stays valid."""
        return self._token_lifetime

    # Credentials ----------------------------------------------------------------------------

    def service_account_info(self, project_id: str = "demo") -> dict[str, str]:
        """Create a service account and return its key file as a dict.

        The dict has the fields of a Google key file (a fresh RSA-2048 PKCS#8
        ``private_key``, ``token_uri`` pointing at this emulator, ...). Accounts are
        named ``fcm-emulator@{project_id}.iam.gserviceaccount.com``, then
        ``fcm-emulator-2@...`` and so on. Only the public key is remembered.

        :param project_id: the project whose messages its tokens may send.
        :raises RuntimeError: before the first :meth:`start`.
        """
        return self._auth.new_service_account(project_id, token_uri=self.token_uri)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (sends then get 401)."""
        self._auth.expire_all()

    # Scripting ------------------------------------------------------------------------------

    def set_outcome(self, target: str, *outcomes: Answer | str) -> None:
        """Replace the queue of outcomes for a target; each send to it consumes one.

        A topic subscription request for a token consumes one of the token's outcomes too,
        and does its work only if that is ``delivered``; an error answers as a v1 send's
        would (``unregistered``: 404 ``UNREGISTERED``). When the queue is empty an
        :meth:`unregister`-ed token answers ``unregistered``; otherwise the random mode or
        :attr:`default_outcome` applies. Giving no outcomes clears the queue. Topic sends
        reaching a token through its subscriptions consume nothing.

        :param target: a token, ``"/topics/NAME"`` or a condition string.
        :param outcomes: :class:`Answer` values or shorthand names.
        :raises ValueError: for an unknown name or a token-endpoint-only outcome.
        """
        self._state.set_queue(target, [check_send_outcome(o) for o in outcomes])

    def set_token_outcome(self, *outcomes: Answer | str) -> None:
        """Replace the queue of outcomes for ``POST /token`` requests.

        ``delivered`` means "verify and answer normally"; also accepted are ``delay``,
        ``drop``, ``malformed``, ``http_error`` and ``oauth_error``.

        :param outcomes: :class:`Answer` values or shorthand names.
        :raises ValueError: for outcomes that only make sense for a send.
        """
        self._state.set_token_queue([check_token_outcome(o) for o in outcomes])

    @property
    def default_outcome(self) -> Answer:
        """The outcome for targets with nothing scripted (settable)."""
        return self._state.default_outcome

    @default_outcome.setter
    def default_outcome(self, outcome: Answer | str) -> None:
        self._state.default_outcome = check_send_outcome(outcome)

    @property
    def latency(self) -> float:
        """Seconds waited before each send response (settable)."""
        return self._state.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._state.latency = check_seconds("latency", seconds)

    def set_random_failures(
        self,
        rate: float,
        seed: int = 0,
        outcomes: Sequence[Answer | str] = _DEFAULT_RANDOM_OUTCOMES,
    ) -> None:
        """Fail a share of unscripted sends, reproducibly.

        For each target with no scripted outcome left, with probability ``rate`` (drawn
        from ``random.Random(seed)``) one of ``outcomes`` is picked instead of the default.

        :param rate: the probability in ``[0, 1]``; 0 turns random mode off.
        :param seed: the seed of the generator.
        :param outcomes: the outcomes to pick from.
        """
        if isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
        checked = [check_send_outcome(o) for o in outcomes]
        if rate > 0 and not checked:
            raise ValueError("outcomes must not be empty")
        self._state.set_random(rate, seed, checked)

    def reset(self) -> None:
        """Clear queues, inboxes, subscriptions, unregistered tokens, records, counters and
        random mode.

        The default outcome and latency go back to the constructor's values. Service
        accounts, issued access tokens and the API key are kept.
        """
        self._state.reset()
        self._subscriptions.clear()

    # Topics ---------------------------------------------------------------------------------

    def subscribe(self, token: str, *topics: str, project_id: str = "demo") -> None:
        """Subscribe a registration (token or FID) to topics directly, to set up a test.

        Already subscribed topics are kept as they are. ``/topics/`` prefixes are ignored.

        :param token: the registration.
        :param topics: topic names matching ``[a-zA-Z0-9-_.~%]{1,900}``.
        :param project_id: the project to subscribe it in.
        :raises ValueError: for an invalid name, an unregistered token, or more than
            2,000 topics in all (nothing is subscribed then).
        """
        names = [_bare_topic(topic) for topic in topics]
        for name in names:
            problem = subscription_topic_problem(name)
            if problem is not None:
                raise ValueError(problem)
        if self._state.is_unregistered(token):
            raise ValueError(f"{token!r} was unregistered (unregister()); reset() forgets that")
        if not self._subscriptions.add_all(project_id, token, names):
            raise ValueError(f"a registration can have at most {MAX_TOPICS_PER_REGISTRATION} topics")

    def unregister(self, *tokens: str) -> None:
        """Make tokens (or FIDs) dead until :meth:`reset`, as an uninstalled app's are.

        Their subscriptions are dropped, in every project; sends to them and topic
        subscription requests for them answer ``unregistered`` (v1 404 ``UNREGISTERED``,
        legacy ``NotRegistered``) whenever :meth:`set_outcome` has nothing queued for them.

        :param tokens: the registrations.
        """
        self._state.unregister(tokens)
        for token in tokens:
            self._subscriptions.drop(token)

    def subscriptions(self, token: str, project_id: str = "demo") -> list[str]:
        """The topic names a registration is subscribed to in a project, sorted.

        :param token: the registration token or FID.
        :param project_id: the project.
        """
        return self._subscriptions.topics(project_id, token)

    def subscribers(self, topic: str, project_id: str = "demo") -> list[str]:
        """The registrations subscribed to a topic in a project, sorted.

        :param topic: the topic name, with or without ``/topics/``.
        :param project_id: the project.
        """
        return self._subscriptions.subscribers(project_id, _bare_topic(topic))

    # Inspection -----------------------------------------------------------------------------

    def inbox(self, target: str) -> list[dict[str, Any]]:
        """The messages delivered to a target, oldest first, in the v1 ``message`` shape.

        A v1 send is kept as its ``message`` object. A legacy send is converted:
        ``data`` values become strings (non-strings as their JSON), ``title``/``body``/
        ``image`` go to ``notification`` and other notification keys to
        ``android.notification`` (``badge`` to ``apns.payload.aps`` instead, ``sound`` to
        both), ``collapse_key``/``priority``/``time_to_live``/
        ``restricted_package_name`` to ``android``, ``content_available``/
        ``mutable_content`` to ``apns.payload.aps``; the target field is ``token``,
        ``topic`` (the bare name) or ``condition``. A message that reached a token through
        a topic or condition keeps that ``topic`` or ``condition`` field, as a device sees
        where it came from (Android's ``RemoteMessage.getFrom()``). Nothing is added for
        dry runs, ``validate_only`` or failed outcomes.

        :param target: a token (or v1 ``fid``), ``"/topics/NAME"`` or a condition string.
        """
        return self._state.inbox(target)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The recorded send, topic subscription and token requests, oldest first (a copy)."""
        return self._state.requests()

    def clear_requests(self) -> None:
        """Forget the recorded requests (counters are kept)."""
        self._state.clear_requests()

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters."""
        return self._state.stats()

    @property
    def token_requests(self) -> int:
        """How many ``POST /token`` requests arrived (answered or not)."""
        return self._state.stats().oauth_requests
