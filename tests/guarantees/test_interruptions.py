"""An interrupted v1 multicast (a Ctrl-C, a Celery soft time limit) keeps its result and sends
nothing afterwards; a second interruption stops the wait and still accounts for every target.

The interruptions are real signals raised in the main thread by a timer, as Celery's soft
time limit raises them, against the emulator.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import types
from collections.abc import Callable, Iterator

import pytest

from fcmclient import FCM, JSONMessage
from fcmclient.result import Result
from fcmclient.testing import Answer, FCMEmulator
from tests.api.test_send_each import v1_client as each_v1_client
from tests.timing import SLACK

WAIT = 10.0  # bound on waiting for the client's threads to end


class TimeLimitError(Exception):
    """Raised in the main thread by a timer signal, as a Celery soft time limit would be."""


#: Where an exception raised by a signal handler breaks Python itself rather than the code
#: under test, because a lock was taken outside the ``try`` or ``with`` that releases it:
#: before Python 3.13, ``logging.Handler.handle`` (every other thread that logs then waits
#: for ever); ``threading.Condition.__enter__`` and ``__exit__``, Python code around the lock
#: (urllib3's pool queue and every ``Event`` use them); ``threading.Thread.start``, which then
#: loses track of the thread it started. (None = anywhere in the module.)
_FRAGILE = {
    (logging.__file__, None),
    (threading.__file__, "start"),
    (threading.__file__, "_bootstrap_inner"),
    (threading.__file__, "__enter__"),
    (threading.__file__, "__exit__"),
}


def in_pythons_own_bookkeeping(frame: types.FrameType | None) -> bool:
    """Whether ``frame`` (where a signal handler runs) is inside one of :data:`_FRAGILE`.

    A Celery soft time limit can land there too; that is a hazard of Python's, for every
    program interrupted that way (docs/guarantees.rst), and not what these tests are about.
    """
    while frame is not None:
        code = frame.f_code
        if (code.co_filename, None) in _FRAGILE or (code.co_filename, code.co_name) in _FRAGILE:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def time_limits(first: float, every: float = 0.0) -> Iterator[Callable[[], None]]:
    """Raise :class:`TimeLimitError` in the main thread ``first`` seconds from now (then every
    ``every`` seconds), as a Celery soft time limit does, until the block ends or the
    ``disarm()`` it yields is called."""
    armed = True

    def stop(signum: int, frame: types.FrameType | None) -> None:
        if not armed:
            return
        if in_pythons_own_bookkeeping(frame):
            if not every:
                signal.setitimer(signal.ITIMER_REAL, 0.001)  # a moment later
            return
        raise TimeLimitError

    def disarm() -> None:
        nonlocal armed
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, first, every)
    try:
        yield disarm
    finally:
        disarm()
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def helper_threads_ended() -> Iterator[None]:
    """On leaving, wait until every helper thread of an FCM started inside the block has ended.

    Close the FCM inside the block: its helpers then end once the loop each runs has returned,
    so every request they made, even after ``send()`` raised, has been answered (and counted
    by the emulator) when this returns. The test fails if one is still running after ``WAIT``.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + WAIT
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("fcmclient_"):  # the names of FCM's helper threads
            thread.join(max(deadline - time.monotonic(), 0.0))
            assert not thread.is_alive(), f"{thread.name} still runs {WAIT:g} s after the FCM was closed"


def test_v1_multicast_interrupted_keeps_its_result_and_sends_nothing_afterwards(
    fcm_emulator: FCMEmulator,
) -> None:
    fcm_emulator.latency = 0.05
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n:03d}" for n in range(400)]

    with (
        helper_threads_ended(),
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=8) as client,
    ):
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        with time_limits(0.3), pytest.raises(TimeLimitError) as info_:
            client.send(JSONMessage(tokens))
        arrived = fcm_emulator.stats.v1_requests
    assert fcm_emulator.stats.v1_requests == arrived  # nothing is sent after send() raised
    result = info_.value.result  # type: ignore[attr-defined]
    retry = result.retry()
    assert retry is not None
    assert sorted([*result.success, *retry.targets]) == tokens  # every target, exactly once
    assert 0 < len(result.success) < len(tokens)
    assert {result.outcomes[t].error for t in retry.targets} <= {"NOT_SENT", "INTERRUPTED"}
    delivered = {t for t in tokens if fcm_emulator.inbox(t)}
    assert set(result.success) <= delivered  # what the result calls sent was delivered
    assert delivered - set(result.success) <= {
        t for t in retry.targets if result.outcomes[t].error == "INTERRUPTED"
    }


def test_an_interruption_while_a_multicasts_result_is_built_still_hands_it_over(
    fcm_emulator: FCMEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fan-out is over, every target settled; an interruption landing while the
    ``Result`` is made (a few ms for 100,000 targets) must not lose them."""
    from fcmclient._send import v1 as v1_sender

    build = v1_sender.results_of
    calls = 0

    def interrupted_once(*args: object, **kwargs: object) -> Result:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TimeLimitError("soft time limit")
        return build(*args, **kwargs)  # type: ignore[arg-type]

    tokens = [f"r{n:03d}" for n in range(20)]
    with FCM.from_service_account(
        fcm_emulator.service_account_info("demo"), url=fcm_emulator.v1_url("demo")
    ) as fcm:
        monkeypatch.setattr(v1_sender, "results_of", interrupted_once)
        with pytest.raises(TimeLimitError) as raised:
            fcm.send(JSONMessage(tokens))
    result: Result = raised.value.result  # type: ignore[attr-defined]
    assert sorted(result.success) == tokens  # each target as FCM answered it


def test_v1_multicast_interrupted_twice_still_accounts_for_every_target(
    fcm_emulator: FCMEmulator,
) -> None:
    """The second interruption stops the wait for the requests under way: send() raises at
    once, and the result it carries still holds every target: the four whose requests were
    under way as INTERRUPTED (they may yet be delivered), the rest as NOT_SENT."""
    slow = [f"slow-{n}" for n in range(4)]
    for token in slow:
        fcm_emulator.set_outcome(token, Answer.delay(0.6))
    fast = [f"fast-{n:02d}" for n in range(40)]
    info = fcm_emulator.service_account_info("demo")
    with (
        helper_threads_ended(),  # the abandoned requests finish on their own
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=4) as client,
    ):
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        sent_before = fcm_emulator.stats.v1_requests
        started = time.monotonic()
        with time_limits(0.1, 0.1) as disarm:  # interrupt until the send gives up
            with pytest.raises(TimeLimitError) as raised:
                client.send(JSONMessage([*slow, *fast]))
            disarm()
        elapsed = time.monotonic() - started
    sent = fcm_emulator.stats.v1_requests - sent_before
    assert elapsed < 0.2 + SLACK  # it returned at the second interruption, not after the 0.6 s answers
    result = raised.value.result  # type: ignore[attr-defined]
    assert not result.success
    errors = {target: outcome.error for target, outcome in result.outcomes.items()}
    assert errors == {**dict.fromkeys(slow, "INTERRUPTED"), **dict.fromkeys(fast, "NOT_SENT")}
    assert result.retry().targets == [*slow, *fast]
    assert sent == len(slow)  # nothing started after the first interruption
    assert {t for t in [*slow, *fast] if fcm_emulator.inbox(t)} <= set(slow)


def test_regression_an_abandoned_wait_lent_a_busy_connection_to_the_next_send(
    fcm_emulator: FCMEmulator,
) -> None:
    """Interrupted again while it waits for the requests under way, a send stops waiting.
    Their connections were then given back to the pool while still in use: the next send
    took one and read the answer meant for the abandoned request, so a live token was
    reported UNREGISTERED (and would have been deleted)."""
    for token in ("slow-1", "slow-2"):
        fcm_emulator.set_outcome(token, Answer.delay(0.8, "unregistered"))
    info = fcm_emulator.service_account_info("demo")
    live = [f"live-{n}" for n in range(4)]
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=3) as client:
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        with time_limits(0.1, 0.1) as disarm:  # interrupt until the send gives up
            with pytest.raises(TimeLimitError):  # the send was interrupted
                client.send(JSONMessage(["slow-1", "slow-2"]))
            disarm()
        result = client.send(JSONMessage(live))  # while the abandoned requests are under way
    assert sorted(result.success) == live, result.outcomes


# -- send_each ---------------------------------------------------------------------------------------


def test_an_interruption_hands_back_every_message_and_stops_starting_requests(
    fcm_emulator: FCMEmulator,
) -> None:
    fcm_emulator.latency = 0.05
    messages = [JSONMessage([f"t{n:03d}", f"u{n:03d}"], {"n": str(n)}) for n in range(100)]
    with each_v1_client(fcm_emulator, max_workers=8) as fcm:
        fcm.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        sent_before = fcm_emulator.stats.v1_requests
        with time_limits(0.3), pytest.raises(TimeLimitError) as raised:
            fcm.send_each(messages)
        sent = fcm_emulator.stats.v1_requests - sent_before
    results = raised.value.results  # type: ignore[attr-defined]
    assert [r.message for r in results] == messages  # every message, in input order
    delivered = 0
    for result in results:
        retry = result.retry()
        assert sorted([*result.success, *(retry.targets if retry else [])]) == sorted(result.message.targets)
        if retry is not None:
            assert {result.outcomes[t].error for t in retry.targets} <= {"NOT_SENT", "INTERRUPTED"}
        delivered += len(result.success)
    assert 0 < delivered < 200
    interrupted = sum(o.error == "INTERRUPTED" for r in results for o in r.outcomes.values())
    assert delivered <= sent <= delivered + interrupted  # every request sent is in the results


def test_an_interruption_of_the_iterator_hands_back_the_results_not_yet_yielded(
    fcm_emulator: FCMEmulator,
) -> None:
    fcm_emulator.latency = 0.05
    messages = [JSONMessage([f"t{n:03d}"]) for n in range(60)]
    yielded: list[Result] = []
    with each_v1_client(fcm_emulator, max_workers=4) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        with time_limits(0.3), pytest.raises(TimeLimitError) as raised:
            yielded.extend(fcm.send_each_iter(messages))
    rest = raised.value.results  # type: ignore[attr-defined]
    assert [r.message for r in [*yielded, *rest]] == messages


@pytest.mark.parametrize("engine", ["on", "off"])
def test_an_interruption_while_a_slow_iterable_is_read_ends_the_call_with_every_message_read(
    fcm_emulator: FCMEmulator, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv("FCMCLIENT_ENGINE", engine)
    fcm_emulator.latency = 0.05
    given: list[JSONMessage] = []
    source_stalls = threading.Event()  # never set: the source (a slow database, say) stalls

    def messages() -> Iterator[JSONMessage]:
        for n in range(12):
            if n == 8:  # two steps of max_workers read; on the engine, the first are under way
                source_stalls.wait(10)
            given.append(JSONMessage([f"t{n:02d}"]))
            yield given[-1]

    with each_v1_client(fcm_emulator, max_workers=4) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        sent_before = fcm_emulator.stats.v1_requests
        started = time.monotonic()
        with time_limits(0.3), pytest.raises(TimeLimitError) as raised:
            fcm.send_each(messages())
        elapsed = time.monotonic() - started
        sent = fcm_emulator.stats.v1_requests - sent_before
    assert elapsed < 0.3 + 1 + SLACK  # the requests under way finish; nothing waits for the source
    results: list[Result] = raised.value.results  # type: ignore[attr-defined]
    assert [r.message for r in results] == given  # every message read, in input order
    delivered = sum(len(r.success) for r in results)
    assert delivered == sent  # each request sent is a success here; nothing else was sent
    for result in results:
        retry = result.retry()
        assert retry is None or [result.outcomes[t].error for t in retry.targets] == ["NOT_SENT"]


# -- topic operations --------------------------------------------------------------------------------


def test_an_interrupted_subscription_keeps_its_result_and_subscribes_nothing_afterwards(
    fcm_emulator: FCMEmulator,
) -> None:
    """As a multicast: the exception carries the partial TopicResult, every token in exactly
    one bucket, those never sent in ``retry()`` as NOT_SENT; nothing is sent after it raised."""
    fcm_emulator.latency = 0.05
    tokens = [f"t{n:03d}" for n in range(400)]
    with helper_threads_ended(), each_v1_client(fcm_emulator, max_workers=8) as client:
        client.subscribe_to_topic("warm-up", "news")  # the access token, outside the timer
        with time_limits(0.3), pytest.raises(TimeLimitError) as raised:
            client.subscribe_to_topic(tokens, "news")
        arrived = fcm_emulator.stats.topic_requests
    assert fcm_emulator.stats.topic_requests == arrived  # nothing is sent after it raised
    result = raised.value.result  # type: ignore[attr-defined]
    retry = result.retry()
    assert sorted([*result.success, *retry]) == tokens  # every token, exactly once
    assert 0 < len(result.success) < len(tokens)
    assert {result.outcomes[t].error for t in retry} <= {"NOT_SENT", "INTERRUPTED"}
    subscribed = set(fcm_emulator.subscribers("news")) - {"warm-up"}
    assert set(result.success) <= subscribed  # what the result calls done was done
    assert subscribed - set(result.success) <= {t for t in retry if result.outcomes[t].error == "INTERRUPTED"}


@pytest.mark.parametrize("engine", ["on", "off"])
def test_regression_a_cookie_jar_left_locked_by_an_interruption_stalled_every_helper(
    fcm_emulator: FCMEmulator, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """``http.cookiejar`` takes its lock outside the ``try`` that releases it: an interruption
    landing there in the calling thread (which sends its share on requests' path) left the
    session's jar locked for good, and every request of every thread waited on it for ever.
    The session keeps no cookie now, so no request takes that lock. Here another thread
    holds it, as such an interruption would leave it."""
    monkeypatch.setenv("FCMCLIENT_ENGINE", engine)
    tokens = [f"t{n:03d}" for n in range(64)]
    results: list[Result] = []
    with each_v1_client(fcm_emulator, max_workers=8) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        lock = fcm.session.cookies._cookies_lock  # what http.cookiejar takes; fails loudly if renamed
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with lock:
                held.set()
                release.wait(WAIT)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        held.wait(WAIT)
        try:
            sender = threading.Thread(
                target=lambda: results.append(fcm.send(JSONMessage(tokens))), daemon=True
            )
            sender.start()
            sender.join(WAIT)
            assert not sender.is_alive(), "the send waited on the session's cookie jar"
        finally:
            release.set()
            holder.join(WAIT)
    assert sorted(results[0].success) == tokens


def test_an_interrupted_request_on_requests_path_ends_with_what_it_came_to(
    fcm_emulator: FCMEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On requests' path the calling thread's own request runs on a helper: interrupted, it
    waits for that request (as for the helpers' requests), and the target gets the answer
    FCM gave, not INTERRUPTED (a retry would have delivered it twice)."""
    monkeypatch.setenv("FCMCLIENT_ENGINE", "off")
    fcm_emulator.latency = 0.4
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=1) as client:
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        with time_limits(0.1), pytest.raises(TimeLimitError) as raised:
            client.send(JSONMessage(["a", "b"]))
        arrived = fcm_emulator.stats.v1_requests
    result = raised.value.result  # type: ignore[attr-defined]
    assert list(result.success) == ["a"]
    assert len(fcm_emulator.inbox("a")) == 1
    assert result.outcomes["b"].error == "NOT_SENT"
    assert fcm_emulator.stats.v1_requests == arrived  # nothing was sent after send() raised
