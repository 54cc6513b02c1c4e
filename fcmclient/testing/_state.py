"""The emulator's shared state: outcome queues, dead tokens, inboxes, records and counters.

Every method takes one lock, so the event loop thread and test threads can use it at once.
"""

from __future__ import annotations

import copy
import random
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from ._answers import Answer
from ._records import EmulatorStats, Protocol, RecordedRequest

__all__ = ["EmulatorState"]

_UNREGISTERED = Answer.unregistered()


class EmulatorState:
    """Thread-safe store of everything tests script and inspect.

    Example::

        state = EmulatorState(Answer.delivered(), history_limit=1000, latency=0.0)
        state.set_queue("t", [Answer.unavailable()])
        assert state.take(["t", "t"])[0].kind == "unavailable"

    :param default_outcome: the outcome when a target has nothing scripted.
    :param history_limit: how many recorded requests, and inbox messages in all, to keep.
    :param latency: seconds to wait before each send response.
    """

    def __init__(self, default_outcome: Answer, *, history_limit: int, latency: float) -> None:
        self._lock = threading.Lock()
        self._initial_default = default_outcome
        self._initial_latency = latency
        self._history_limit = history_limit
        self._queues: dict[str, deque[Answer]] = {}
        self._unregistered: set[str] = set()
        self._token_queue: deque[Answer] = deque()
        self._inboxes: dict[str, deque[dict[str, Any]]] = {}
        self._inbox_order: deque[str] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=history_limit)
        self._default = default_outcome
        self._latency = latency
        self._random: random.Random | None = None
        self._random_rate = 0.0
        self._random_outcomes: tuple[Answer, ...] = ()
        self._connections_active = 0
        self._zero_counters()

    def _zero_counters(self) -> None:
        self._connections_opened = 0
        self._requests_total = 0
        self._per_protocol: dict[Protocol, int] = {"legacy": 0, "v1": 0, "oauth": 0, "topics": 0}
        self._delivered = 0

    # Configuration -------------------------------------------------------------------------

    @property
    def default_outcome(self) -> Answer:
        with self._lock:
            return self._default

    @default_outcome.setter
    def default_outcome(self, outcome: Answer) -> None:
        with self._lock:
            self._default = outcome

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds

    def set_random(self, rate: float, seed: int, outcomes: Sequence[Answer]) -> None:
        with self._lock:
            if rate <= 0:
                self._random, self._random_rate, self._random_outcomes = None, 0.0, ()
            else:
                self._random = random.Random(seed)
                self._random_rate = rate
                self._random_outcomes = tuple(outcomes)

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._unregistered.clear()
            self._token_queue.clear()
            self._inboxes.clear()
            self._inbox_order.clear()
            self._requests.clear()
            self._default = self._initial_default
            self._latency = self._initial_latency
            self._random, self._random_rate, self._random_outcomes = None, 0.0, ()
            self._zero_counters()

    # Outcomes ------------------------------------------------------------------------------

    def set_queue(self, target: str, outcomes: Sequence[Answer]) -> None:
        with self._lock:
            if outcomes:
                self._queues[target] = deque(outcomes)
            else:
                self._queues.pop(target, None)

    def set_token_queue(self, outcomes: Sequence[Answer]) -> None:
        with self._lock:
            self._token_queue = deque(outcomes)

    def unregister(self, tokens: Iterable[str]) -> None:
        """Make ``tokens`` answer ``unregistered`` whenever nothing is scripted for them."""
        with self._lock:
            self._unregistered.update(tokens)

    def is_unregistered(self, token: str) -> bool:
        with self._lock:
            return token in self._unregistered

    def take(self, targets: Sequence[str]) -> list[Answer]:
        """Consume one outcome per target, in order: scripted, else dead, random or default."""
        with self._lock:
            return [self._take_one(target) for target in targets]

    def _take_one(self, target: str) -> Answer:
        queue = self._queues.get(target)
        if queue:
            outcome = queue.popleft()
            if not queue:
                del self._queues[target]
            return outcome
        if target in self._unregistered:
            return _UNREGISTERED
        rng = self._random
        if rng is not None and rng.random() < self._random_rate:
            return rng.choice(self._random_outcomes)
        return self._default

    def take_token_outcome(self) -> Answer | None:
        with self._lock:
            return self._token_queue.popleft() if self._token_queue else None

    # Inboxes -------------------------------------------------------------------------------

    def deliver(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Append each ``(key, message)`` to the key's inbox, evicting the oldest if full."""
        with self._lock:
            for key, message in messages:
                self._inboxes.setdefault(key, deque()).append(message)
                self._inbox_order.append(key)
                self._delivered += 1
                if len(self._inbox_order) > self._history_limit:
                    oldest = self._inbox_order.popleft()
                    inbox = self._inboxes[oldest]
                    inbox.popleft()
                    if not inbox:
                        del self._inboxes[oldest]

    def inbox(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._inboxes.get(key, ())))

    # Records and counters ------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._per_protocol[request.protocol] += 1

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count_request(self) -> None:
        with self._lock:
            self._requests_total += 1

    def connection_opened(self) -> None:
        with self._lock:
            self._connections_opened += 1
            self._connections_active += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._connections_active -= 1

    def stats(self) -> EmulatorStats:
        with self._lock:
            return EmulatorStats(
                connections_opened=self._connections_opened,
                connections_active=self._connections_active,
                requests_total=self._requests_total,
                legacy_requests=self._per_protocol["legacy"],
                v1_requests=self._per_protocol["v1"],
                oauth_requests=self._per_protocol["oauth"],
                messages_delivered=self._delivered,
                topic_requests=self._per_protocol["topics"],
            )
