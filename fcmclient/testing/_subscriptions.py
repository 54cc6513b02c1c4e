"""Topic subscriptions: which registration (token or FID) is subscribed to which topic.

Subscriptions are kept per project, as FCM keeps them; a topic or condition send of one
project reaches the registrations subscribed in that project. Every method takes one lock,
so the event loop thread and test threads can use a store at once.
"""

from __future__ import annotations

import bisect
import datetime
import threading
import time
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_TOPICS_PER_REGISTRATION", "AddStatus", "Subscription", "SubscriptionStore"]

#: FCM's limit: "One app instance can be subscribed to no more than 2000 topics."
MAX_TOPICS_PER_REGISTRATION = 2000

AddStatus = Literal["created", "exists", "full"]


@dataclass(frozen=True)
class Subscription:
    """One registration's subscription to one topic.

    Example::

        sub = Subscription("demo", "token-1", "news", "2026-01-15T01:30:15.010000Z")
        assert sub.name == "projects/demo/registrations/token-1/topicSubscriptions/news"

    :param project: the project id (or number) it was made in.
    :param registration: the registration token or FID.
    :param topic: the topic name.
    :param create_time: when it was made, RFC 3339 in UTC with microseconds.
    """

    project: str
    registration: str
    topic: str
    create_time: str

    @property
    def name(self) -> str:
        """The resource name, ``projects/P/registrations/R/topicSubscriptions/T``."""
        return f"projects/{self.project}/registrations/{self.registration}/topicSubscriptions/{self.topic}"


def _rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SubscriptionStore:
    """Thread-safe subscriptions per project and registration, with a reverse index per topic.

    Example::

        store = SubscriptionStore()
        store.add("demo", "token-1", "news")
        assert store.subscribers("demo", "news") == ["token-1"]

    :param clock: UNIX time, for ``create_time``.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        # project -> registration -> topic -> create_time
        self._topics: dict[str, dict[str, dict[str, str]]] = {}
        # project -> topic -> registrations
        self._subscribers: dict[str, dict[str, set[str]]] = {}

    def _insert(self, project: str, registration: str, topic: str) -> Subscription:
        create_time = _rfc3339(self._clock())
        self._topics.setdefault(project, {}).setdefault(registration, {})[topic] = create_time
        self._subscribers.setdefault(project, {}).setdefault(topic, set()).add(registration)
        return Subscription(project, registration, topic, create_time)

    def add(self, project: str, registration: str, topic: str) -> tuple[AddStatus, Subscription | None]:
        """Subscribe, unless already subscribed or at :data:`MAX_TOPICS_PER_REGISTRATION`.

        :returns: ``("created", new)``, ``("exists", existing)`` or ``("full", None)``.
        """
        with self._lock:
            existing = self._topics.get(project, {}).get(registration, {})
            if topic in existing:
                return "exists", Subscription(project, registration, topic, existing[topic])
            if len(existing) >= MAX_TOPICS_PER_REGISTRATION:
                return "full", None
            return "created", self._insert(project, registration, topic)

    def add_all(self, project: str, registration: str, topics: Iterable[str]) -> bool:
        """Subscribe to every topic not yet subscribed, or to none if that passes the limit.

        :returns: whether they were added.
        """
        with self._lock:
            existing = self._topics.get(project, {}).get(registration, {})
            new = [topic for topic in dict.fromkeys(topics) if topic not in existing]
            if len(existing) + len(new) > MAX_TOPICS_PER_REGISTRATION:
                return False
            for topic in new:
                self._insert(project, registration, topic)
            return True

    def get(self, project: str, registration: str, topic: str) -> Subscription | None:
        """The subscription, or ``None``."""
        with self._lock:
            create_time = self._topics.get(project, {}).get(registration, {}).get(topic)
        return None if create_time is None else Subscription(project, registration, topic, create_time)

    def _discard(self, project: str, registration: str, topic: str) -> None:
        by_topic = self._subscribers[project]
        by_topic[topic].discard(registration)
        if not by_topic[topic]:
            del by_topic[topic]
        if not by_topic:
            del self._subscribers[project]

    def remove(self, project: str, registration: str, topic: str) -> bool:
        """Unsubscribe; returns whether the subscription existed."""
        with self._lock:
            topics = self._topics.get(project, {}).get(registration)
            if topics is None or topic not in topics:
                return False
            del topics[topic]
            if not topics:
                del self._topics[project][registration]
                if not self._topics[project]:
                    del self._topics[project]
            self._discard(project, registration, topic)
            return True

    def page(
        self, project: str, registration: str, after: str | None, size: int
    ) -> tuple[list[Subscription], bool]:
        """Up to ``size`` subscriptions in topic-name order, after the topic ``after``.

        :returns: the page and whether more follow.
        """
        with self._lock:
            topics = dict(self._topics.get(project, {}).get(registration, {}))
        names = sorted(topics)
        start = 0 if after is None else bisect.bisect_right(names, after)
        chosen = names[start : start + size]
        page = [Subscription(project, registration, name, topics[name]) for name in chosen]
        return page, start + size < len(names)

    def topics(self, project: str, registration: str) -> list[str]:
        """The topic names a registration is subscribed to, sorted."""
        with self._lock:
            return sorted(self._topics.get(project, {}).get(registration, {}))

    def _projects(self, project: str | None) -> list[str]:
        return list(self._topics) if project is None else [project]

    def subscribers(self, project: str | None, topic: str) -> list[str]:
        """The registrations subscribed to ``topic``, sorted (``project=None``: in any project)."""
        with self._lock:
            found = {
                registration
                for name in self._projects(project)
                for registration in self._subscribers.get(name, {}).get(topic, ())
            }
        return sorted(found)

    def matching(self, project: str | None, matches: Callable[[Set[str]], bool]) -> list[str]:
        """The registrations whose topic set satisfies ``matches``, sorted.

        Only registrations with at least one subscription are known, so only they are
        considered (``project=None``: any project's).
        """
        with self._lock:
            found = {
                registration
                for name in self._projects(project)
                for registration, topics in self._topics.get(name, {}).items()
                if matches(topics.keys())
            }
        return sorted(found)

    def drop(self, registration: str) -> None:
        """Forget every subscription of ``registration``, in every project."""
        with self._lock:
            for project in list(self._topics):
                topics = self._topics[project].pop(registration, {})
                for topic in topics:
                    self._discard(project, registration, topic)
                if not self._topics[project]:
                    del self._topics[project]

    def clear(self) -> None:
        """Forget every subscription."""
        with self._lock:
            self._topics.clear()
            self._subscribers.clear()
