"""Messages as plain dicts, to travel through a task queue's JSON serializer."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..messages import InstallationMessage, JSONMessage, Message, PlainTextMessage, TopicMessage

__all__ = ["MESSAGE_CLASSES", "dump_message", "load_message"]

#: The message classes that may travel through a queue, by name. :func:`load_message`
#: builds nothing else, whatever a queued dict says.
MESSAGE_CLASSES: Mapping[str, type[Message]] = MappingProxyType(
    {cls.__name__: cls for cls in (JSONMessage, PlainTextMessage, TopicMessage, InstallationMessage)}
)

_DUMP_KEYS = frozenset({"class", "state"})


def dump_message(message: Message) -> dict[str, Any]:
    """The message as a JSON-serialisable dict: its class name and its ``__getstate__()``.

    :param message: a message of one of the :data:`MESSAGE_CLASSES`.
    :raises TypeError: any other class, subclasses included (they could not be rebuilt as
        themselves on the other side).

    >>> dump_message(JSONMessage(["tok-1"], {"k": "v"}))
    {'class': 'JSONMessage', 'state': {'registration_ids': ['tok-1'], 'data': {'k': 'v'}}}
    """
    cls = type(message)
    if MESSAGE_CLASSES.get(cls.__name__) is not cls:
        raise TypeError(
            f"only {', '.join(MESSAGE_CLASSES)} can be dumped, not {cls.__module__}.{cls.__qualname__}"
        )
    return {"class": cls.__name__, "state": message.__getstate__()}


def load_message(dumped: Mapping[str, Any]) -> Message:
    """Rebuild a message from :func:`dump_message`'s dict.

    Only the :data:`MESSAGE_CLASSES` are built, by name from that allow-list: nothing is
    imported, whatever the dict says.

    :param dumped: ``{"class": name, "state": constructor kwargs}``.
    :raises ValueError: a class name not in the allow-list, or a dict of another shape.
    :raises TypeError: ``dumped`` is not a dict, or the constructor refused the state.

    >>> load_message({"class": "TopicMessage", "state": {"topic": "news"}}).topic
    'news'
    """
    if not isinstance(dumped, Mapping):
        raise TypeError(f"a dumped message is a dict, not {type(dumped).__name__}")
    if set(dumped) != _DUMP_KEYS:
        raise ValueError(f"a dumped message has exactly the keys 'class' and 'state', got {sorted(dumped)}")
    name = dumped["class"]
    cls = MESSAGE_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"refusing message class {name!r:.60}: expected one of {', '.join(MESSAGE_CLASSES)}")
    state = dumped["state"]
    if not isinstance(state, Mapping):
        raise ValueError(f"a dumped message's 'state' is a dict, not {type(state).__name__}")
    return cls(**state)
