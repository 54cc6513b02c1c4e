"""Soak: 20,000 tokens through the emulator's random-failure mode, retried round by round.

30% of sends fail transiently (503, 500, or the connection dropped without an answer); the
loop sends ``result.retry()`` after ``result.delay()`` (a 1 ms backoff base, so the waits
are real but tiny) until nothing is left. Every token must end exactly once: in ``success``
once, in the emulator's inbox once. The figures (rounds, per-round counts, seconds) are
printed in pytest's summary.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from fcmclient import FCM, JSONMessage
from fcmclient.testing import FCMEmulator

TOKENS = 20_000
RATE = 0.3
MAX_ROUNDS = 20


@pytest.mark.slow
def test_soak_20000_tokens_with_30_percent_transient_failures(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], figure: Callable[[str], None]
) -> None:
    emu = fcm_emulator
    emu.set_random_failures(RATE, seed=20_000, outcomes=("unavailable", "internal", "drop"))
    tokens = [f"soak-{n:05d}" for n in range(TOKENS)]
    succeeded: Counter[str] = Counter()
    rounds: list[str] = []
    started, cpu = time.monotonic(), time.process_time()
    with FCM.from_service_account(
        fcm_service_account, url=emu.v1_url("demo"), max_workers=4, backoff=1
    ) as client:
        message: JSONMessage | None = JSONMessage(tokens, {"soak": "1"})
        while message is not None:
            assert len(rounds) < MAX_ROUNDS, rounds
            round_started = time.monotonic()
            result = client.send(message)
            retry = result.retry()
            assert not result.not_registered
            assert not result.failed, result.failed
            assert len(result.success) + (len(retry.targets) if retry else 0) == len(message.targets)
            succeeded.update(list(result.success))
            errors = Counter(o.error for o in result.outcomes.values() if o.error)
            rounds.append(
                f"round {len(rounds) + 1}: {len(message.targets)} sent, {len(result.success)} delivered, "
                f"{len(retry.targets) if retry else 0} to retry {dict(errors)} "
                f"in {time.monotonic() - round_started:.2f} s"
            )
            if retry is not None:
                time.sleep(result.delay(len(rounds) - 1))
            message = retry  # type: ignore[assignment]
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    stats = emu.stats
    figure(
        f"soak: {TOKENS} tokens, {RATE:.0%} transient failures, {len(rounds)} rounds, "
        f"{stats.v1_requests} requests, {stats.connections_opened} connections, {elapsed:.1f} s "
        f"({cpu:.1f} s CPU, client and emulator)"
    )
    for line in rounds:
        figure("soak " + line)
    assert set(succeeded) == set(tokens)
    assert max(succeeded.values()) == 1  # never reported twice
    assert stats.messages_delivered == TOKENS  # never delivered twice
    assert stats.v1_requests > TOKENS * 1.3  # the failures really happened
    assert all(len(emu.inbox(token)) == 1 for token in tokens[:: TOKENS // 200])
