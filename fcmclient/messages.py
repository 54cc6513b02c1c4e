"""Message builders: what to send and to whom, independent of the protocol.

A message holds targets, ``data``, a notification and options. The legacy body
(:attr:`JSONMessage.payload`) is derived here because it is part of the public API; the
HTTP v1 translation lives with the v1 codec (``docs/migrating.rst``). Messages are values: nothing mutates
them after construction, and :meth:`~Message.__getstate__` returns exactly the constructor
keyword arguments, JSON-serialisable, which is how messages travel through Celery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from ._content import (
    LEGACY_OPTIONS,
    MAX_CONTENT_BYTES,
    V1_FIELDS,
    Content,
    check_token,
    checked_content,
    copy_plain,
    parameters,
    upgrade_state,
)

__all__ = [
    "MAX_CONTENT_BYTES",
    "LEGACY_OPTIONS",
    "V1_FIELDS",
    "Message",
    "JSONMessage",
    "PlainTextMessage",
    "TopicMessage",
    "InstallationMessage",
]

M = TypeVar("M", bound="Message")


class Message:
    """Common part of every message: ``data``, notification and options.

    Not used directly: build a :class:`JSONMessage`, :class:`InstallationMessage`,
    :class:`PlainTextMessage` or :class:`TopicMessage`.
    """

    _targets: tuple[str, ...]
    _data: dict[str, Any] | None
    _notification: dict[str, Any] | None
    _options: dict[str, Any]

    def _set_content(
        self,
        data: Mapping[str, Any] | None,
        message_title: str | None,
        message_body: str | None,
        payload: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> None:
        content = checked_content(data, message_title, message_body, payload, options, parameters(type(self)))
        self._data, self._notification, self._options = content.data, content.notification, content.options

    @property
    def targets(self) -> list[str]:
        """Every target of this message, in order: tokens, or the topic or condition."""
        return list(self._targets)

    @property
    def data(self) -> dict[str, Any] | None:
        """The ``data`` payload, or ``None``."""
        return copy_plain(self._data)

    @property
    def notification(self) -> dict[str, Any] | None:
        """The notification (``title``, ``body`` and any extra keys), or ``None``."""
        return copy_plain(self._notification)

    @property
    def message_title(self) -> str | None:
        """The notification title, or ``None``."""
        return (self._notification or {}).get("title")

    @property
    def message_body(self) -> str | None:
        """The notification body, or ``None``."""
        return (self._notification or {}).get("body")

    @property
    def options(self) -> dict[str, Any]:
        """Every option given (known, unknown and v1 fields), without ``None`` values."""
        return copy_plain(self._options)

    @property
    def payload(self) -> dict[str, Any]:
        """The legacy HTTP JSON body for this message (a fresh copy each time)."""
        body = self._legacy_target()
        if self._data is not None:
            body["data"] = copy_plain(self._data)
        if self._notification is not None:
            body["notification"] = copy_plain(self._notification)
        for key, value in self._options.items():
            if key not in V1_FIELDS:
                body[key] = copy_plain(value)
        return body

    def _content_state(self) -> dict[str, Any]:
        content = Content(self._data, self._notification, self._options)
        return content.state(parameters(type(self)))

    def _target_state(self, targets: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _legacy_target(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """The constructor's keyword arguments: ``type(msg)(**msg.__getstate__()) == msg``.

        The dict is JSON-serialisable, so a message can travel through Celery's JSON
        serializer (or any queue) and be rebuilt on the other side.
        """
        state = self._target_state(list(self._targets))
        state.update(self._content_state())
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Rebuild the message from :meth:`__getstate__`'s keyword arguments."""
        self.__init__(**upgrade_state(state))  # type: ignore[misc]

    def with_targets(self: M, targets: Iterable[str]) -> M:
        """A new message with the same content, sent to ``targets`` instead.

        This is how :meth:`~fcmclient.Result.retry` builds the retry message.
        """
        state = self._content_state()
        state.update(self._target_state(list(targets)))
        return type(self)(**state)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Message)
        return self.__getstate__() == other.__getstate__()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(self._targets[:3]) if len(self._targets) <= 3 else f"{len(self._targets)} targets"
        keys = sorted(self._data) if self._data else []
        options = sorted(self._options)
        return f"<{type(self).__name__} to {shown}; data keys {keys}; options {options}>"


class JSONMessage(Message):
    """A multicast message to up to 1,000 registration tokens (legacy) or any number (v1).

    :param registration_ids: the target tokens. Duplicates are dropped (first one kept), so
        every token is sent once and ends in exactly one bucket of the result.
    :param data: the ``data`` payload (a dict). On HTTP v1 every value is sent as a string:
        strings unchanged, anything else JSON-encoded.
    :param message_title: the notification title.
    :param message_body: the notification body.
    :param payload: a raw legacy body to start from (its ``data`` and ``notification`` are
        used where the arguments above are not given; other keys become options).
    :param options: FCM options: ``collapse_key``, ``priority``, ``time_to_live``,
        ``delay_while_idle``, ``restricted_package_name``, ``dry_run``,
        ``content_available``, ``mutable_content``; the HTTP v1 fields ``android``,
        ``apns``, ``webpush``, ``fcm_options``; ``None`` values are dropped and unknown
        options are passed on for FCM to judge. A ``notification`` dict is content, like
        ``payload['notification']``: ``message_title`` and ``message_body`` go over it.
        The message keeps deep copies of everything given, sharing nothing with the caller.
    :raises ValueError: no tokens, an empty token, or content larger than
        :data:`MAX_CONTENT_BYTES`.
    :raises TypeError: a token that is not a str, ``data`` that is not a dict with str keys,
        or content that is not JSON-serialisable.

    >>> msg = JSONMessage(["tok-1", "tok-2"], {"score": "3:1"}, message_title="Goal!",
    ...                   collapse_key="score", time_to_live=0)
    >>> msg.payload["notification"]
    {'title': 'Goal!'}
    >>> JSONMessage(**msg.__getstate__()) == msg
    True
    """

    def __init__(
        self,
        registration_ids: Iterable[str],
        data: Mapping[str, Any] | None = None,
        message_title: str | None = None,
        message_body: str | None = None,
        payload: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if isinstance(registration_ids, (str, bytes)):
            raise TypeError("registration_ids must be a list of tokens, not a single str")
        tokens = list(registration_ids)
        if not all(type(token) is str and token for token in tokens):  # the cheap check first
            tokens = [check_token(token, "a registration id") for token in tokens]
        if not tokens:
            raise ValueError("registration_ids is empty: a message needs at least one token")
        self._targets = tuple(dict.fromkeys(tokens))
        self._set_content(data, message_title, message_body, payload, options)

    @property
    def registration_ids(self) -> list[str]:
        """The target tokens, without duplicates, in the order given."""
        return list(self._targets)

    def _target_state(self, targets: list[str]) -> dict[str, Any]:
        return {"registration_ids": targets}

    def _legacy_target(self) -> dict[str, Any]:
        return {"registration_ids": list(self._targets)}


class InstallationMessage(JSONMessage):
    """A multicast to Firebase installation IDs (FIDs) instead of registration tokens.

    HTTP v1 only: FCM added ``fid`` targets in 2026, and the legacy API never had them, so
    sending one through a legacy :class:`~fcmclient.FCM` raises ``ValueError`` before any
    request. Everything else (content, options, results keyed by FID, ``retry()``) is as for
    :class:`JSONMessage`.

    :param fids: the target installation IDs.
    :param data: as for :class:`JSONMessage`.
    :param message_title: the notification title.
    :param message_body: the notification body.
    :param payload: as for :class:`JSONMessage`.
    :param options: as for :class:`JSONMessage`.

    >>> InstallationMessage(["fid-1"], {"k": "v"}).fids
    ['fid-1']
    """

    def __init__(
        self,
        fids: Iterable[str],
        data: Mapping[str, Any] | None = None,
        message_title: str | None = None,
        message_body: str | None = None,
        payload: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(fids, data, message_title, message_body, payload, **options)

    @property
    def fids(self) -> list[str]:
        """The target installation IDs, without duplicates, in the order given."""
        return list(self._targets)

    def _target_state(self, targets: list[str]) -> dict[str, Any]:
        return {"fids": targets}


class TopicMessage(Message):
    """A message to everyone subscribed to a topic, or to a condition over topics.

    Give exactly one of ``topic`` (``"news"``; a ``/topics/`` prefix is accepted) or
    ``condition`` (``"'news' in topics && 'sport' in topics"``). Its
    :class:`~fcmclient.Result` is keyed by the topic or condition string as given.

    :param topic: the topic name.
    :param condition: a condition over topics.
    :param data: as for :class:`JSONMessage`.
    :param message_title: the notification title.
    :param message_body: the notification body.
    :param payload: as for :class:`JSONMessage`.
    :param options: as for :class:`JSONMessage`.
    :raises ValueError: both or neither of ``topic`` and ``condition``.

    >>> TopicMessage(topic="news", message_title="Extra!").payload["to"]
    '/topics/news'
    """

    def __init__(
        self,
        topic: str | None = None,
        condition: str | None = None,
        data: Mapping[str, Any] | None = None,
        message_title: str | None = None,
        message_body: str | None = None,
        payload: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if (topic is None) == (condition is None):
            raise ValueError("give exactly one of topic= and condition=")
        if topic is not None:
            self._targets = (check_token(topic, "topic"),)
        else:
            self._targets = (check_token(condition, "condition"),)
        self._is_topic = topic is not None
        self._set_content(data, message_title, message_body, payload, options)

    @property
    def topic(self) -> str | None:
        """The topic as given, or ``None`` for a condition."""
        return self._targets[0] if self._is_topic else None

    @property
    def topic_name(self) -> str | None:
        """The topic without any ``/topics/`` prefix, or ``None`` for a condition."""
        topic = self.topic
        return topic.removeprefix("/topics/") if topic is not None else None

    @property
    def condition(self) -> str | None:
        """The condition, or ``None`` for a topic."""
        return None if self._is_topic else self._targets[0]

    def _target_state(self, targets: list[str]) -> dict[str, Any]:
        if targets != list(self._targets):
            raise ValueError("a topic message has exactly one target and cannot be retargeted")
        return {"topic": targets[0]} if self._is_topic else {"condition": targets[0]}

    def _legacy_target(self) -> dict[str, Any]:
        if self._is_topic:
            return {"to": "/topics/" + (self.topic_name or "")}
        return {"condition": self._targets[0]}


class PlainTextMessage(Message):
    """A unicast message sent in the legacy plain-text (form-encoded) format.

    On HTTP v1 it is sent like a one-token :class:`JSONMessage`. The plain-text format has
    no notification: only ``data`` (values sent as strings) and options.

    :param registration_id: the target token.
    :param data: the ``data`` payload.
    :param options: as for :class:`JSONMessage`.
    :raises TypeError: a ``notification`` option.

    >>> PlainTextMessage("tok-1", {"x": 1}, dry_run=True).registration_id
    'tok-1'
    """

    def __init__(
        self,
        registration_id: str,
        data: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self._targets = (check_token(registration_id, "registration_id"),)
        if options.get("notification") is not None:
            raise TypeError("a plain-text message has no notification; send a JSONMessage instead")
        self._set_content(data, None, None, None, options)

    @property
    def registration_id(self) -> str:
        """The target token."""
        return self._targets[0]

    def _target_state(self, targets: list[str]) -> dict[str, Any]:
        if len(targets) != 1:
            raise ValueError("a plain-text message is a unicast: exactly one target")
        return {"registration_id": targets[0]}

    def _legacy_target(self) -> dict[str, Any]:
        return {"registration_id": self._targets[0]}
