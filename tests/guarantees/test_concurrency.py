"""One FCM shared by 16 threads while the access token expires mid-run (HTTP v1, emulator)."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable

from fcmclient import FCM, JSONMessage, Result
from fcmclient.testing import Answer, FCMEmulator

THREADS = 16
MULTICASTS = 200
TOKENS_PER_MULTICAST = 5
EXPIRE_AFTER = 50  # multicasts completed before every access token is made expired
TOKEN_DELAY = 0.2  # each token request takes this long, so overlapping refreshes would show


def test_sixteen_threads_share_one_refresh_when_the_token_expires_mid_run(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], figure: Callable[[str], None]
) -> None:
    emu = fcm_emulator
    emu.set_token_outcome(*[Answer.delay(TOKEN_DELAY)] * 4)
    work: queue.Queue[int] = queue.Queue()
    for number in range(MULTICASTS):
        work.put(number)
    results: dict[int, list[Result]] = {}
    errors: list[BaseException] = []
    done = 0
    lock = threading.Lock()

    def worker(client: FCM) -> None:
        nonlocal done
        while True:
            try:
                number = work.get_nowait()
            except queue.Empty:
                return
            message: JSONMessage | None = JSONMessage(
                [f"m{number:03d}-t{k}" for k in range(TOKENS_PER_MULTICAST)], {"n": str(number)}
            )
            rounds: list[Result] = []
            try:
                while message is not None:
                    result = client.send(message)
                    rounds.append(result)
                    if result.needs_retry():
                        assert result.delay() == 0.0  # an expired token: resend at once
                    message = result.retry()  # type: ignore[assignment]
            except BaseException as exc:
                errors.append(exc)
                return
            with lock:
                results[number] = rounds
                done += 1
                if done == EXPIRE_AFTER:
                    emu.expire_access_tokens()

    with FCM.from_service_account(
        fcm_service_account, url=emu.v1_url("demo"), max_workers=16, backoff=1
    ) as client:
        assert client.send(JSONMessage(["warm-up"])).success  # token 1, before any multicast starts
        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(client,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - started
        fetches = client.token_fetches

    assert not errors, errors[:3]
    assert sorted(results) == list(range(MULTICASTS))
    expired = 0
    for number, rounds in results.items():
        tokens = [f"m{number:03d}-t{k}" for k in range(TOKENS_PER_MULTICAST)]
        settled: list[str] = []
        for result in rounds:
            retry = result.retry()
            placed = [
                *result.success,
                *result.not_registered,
                *result.failed,
                *(retry.targets if retry else []),
            ]
            assert sorted(placed) == sorted(result.message.targets)  # every result complete
            assert all(o.error == "ACCESS_TOKEN_EXPIRED" for o in result.outcomes.values() if o.error)
            expired += len(retry.targets) if retry else 0
            settled += list(result.success)
        assert sorted(settled) == sorted(tokens)
        for token in tokens:
            assert len(emu.inbox(token)) == 1  # delivered exactly once

    oauth = [r for r in emu.requests if r.protocol == "oauth"]
    figure(
        f"{THREADS} threads, {MULTICASTS} multicasts of {TOKENS_PER_MULTICAST}: {elapsed:.2f} s, "
        f"{expired} sends refused as expired and resent, {len(oauth)} token requests"
    )
    assert expired > 0  # the expiry really hit sends in flight
    assert fetches == len(oauth) == 2  # the first token, and one refresh for all 16 threads
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(oauth)]
    assert all(gap >= TOKEN_DELAY for gap in gaps)  # no two token requests were in flight at once
