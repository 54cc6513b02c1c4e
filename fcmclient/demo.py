"""``fcmclient demo``: a multicast to the built-in emulator, explained token by token."""

from __future__ import annotations

import time
from typing import TextIO

from .api import FCM
from .messages import JSONMessage
from .outcomes import Bucket, Outcome
from .result import Result

__all__ = ["run_demo", "advice"]

_PROJECT = "demo"


def advice(outcome: Outcome, delay: float) -> str:
    """What an app should do about one target, in words."""
    if outcome.bucket is Bucket.SUCCESS:
        if outcome.canonical_id is not None:
            return f"update: replace the stored token by {outcome.canonical_id}"
        return "nothing: delivered"
    if outcome.bucket is Bucket.NOT_REGISTERED:
        return "remove: the token is dead, delete it"
    if outcome.bucket is Bucket.FAILED:
        return f"investigate: {outcome.error}, sending again will not help"
    return f"retry after {delay:.1f} s ({outcome.error})"


def _table(out: TextIO, result: Result, delay: float) -> None:
    for target, outcome in result.outcomes.items():
        label = outcome.bucket.value + (" (canonical)" if outcome.canonical_id else "")
        out.write(f"  {target:<14} {label:<25} {advice(outcome, delay)}\n")


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to ``out``; returns the exit status (0)."""
    from .testing import FCMEmulator
    from .testing import Outcome as Scripted

    with FCMEmulator() as emulator:
        out.write(f"FCM emulator running at {emulator.url} (no Google account needed)\n\n")
        emulator.set_outcome("phone-bob", Scripted.unregistered())
        emulator.set_outcome("phone-carol", Scripted.invalid())
        emulator.set_outcome("tablet-dan", Scripted.unavailable(retry_after=1), "delivered")
        emulator.set_outcome("tablet-erin", Scripted.quota_exceeded(retry_after=1), "delivered")
        emulator.set_outcome("watch-frank", Scripted.sender_mismatch())
        tokens = [
            "phone-alice",
            "phone-bob",
            "phone-carol",
            "tablet-dan",
            "tablet-erin",
            "watch-frank",
        ]
        message = JSONMessage(
            tokens,
            {"order": "1234", "status": "shipped"},
            message_title="Your order shipped",
            time_to_live=3600,
        )

        info = emulator.service_account_info(project_id=_PROJECT)
        with FCM.from_service_account(info, url=emulator.v1_url(_PROJECT)) as fcm:
            out.write(
                f"HTTP v1: one message to {len(tokens)} tokens (service account {info['client_email']})\n"
            )
            result = fcm.send(message)
            delay = result.delay()
            _table(out, result, delay)
            retry = result.retry()
            if retry is not None:
                out.write(
                    f"\n{len(retry.targets)} token(s) to retry: waiting {delay:.1f} s "
                    "as Result.delay() says\n"
                )
                time.sleep(delay)
                _table(out, fcm.send(retry), 0.0)

        emulator.set_outcome("watch-gina", Scripted.canonical("watch-gina-v2"))
        with FCM(emulator.api_key, url=emulator.legacy_url) as legacy:
            out.write("\nLegacy API (the only one with canonical ids): one message to 2 tokens\n")
            _table(
                out,
                legacy.send(JSONMessage(["phone-alice", "watch-gina"], {"order": "1234"})),
                0.0,
            )

        delivered = len(emulator.inbox("tablet-dan"))
        out.write(
            f"\nThe emulator's inbox for tablet-dan holds {delivered} message(s): "
            "retried once, delivered once.\n"
        )
    return 0
