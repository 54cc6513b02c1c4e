"""``fcmclient demo``: a multicast to the built-in emulator, explained token by token."""

from __future__ import annotations

import time
from typing import TextIO

from ..api import FCM
from ..messages import JSONMessage
from ..result import Result
from .report import advice

__all__ = ["run_demo"]

_PROJECT = "demo"
_COLUMNS = "  {:<12} {:<20} {}\n"


def _table(out: TextIO, result: Result, delay: float | None) -> None:
    out.write(_COLUMNS.format("token", "outcome", "what your app should do"))
    for target, outcome in result.outcomes.items():
        label = outcome.bucket.value + (" (canonical)" if outcome.canonical_id else "")
        out.write(_COLUMNS.format(target, label, advice(outcome, delay)))


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to ``out``; returns the exit status (0)."""
    from ..testing import Answer, FCMEmulator

    with FCMEmulator() as emulator:
        out.write(
            f"Started the built-in FCM emulator at {emulator.url}: nothing leaves this machine,\n"
            "no Google account is needed. Each token below is scripted to get one kind of answer.\n\n"
        )
        emulator.set_outcome("phone-bob", Answer.unregistered())
        emulator.set_outcome("phone-carol", Answer.invalid())
        emulator.set_outcome("tablet-dan", Answer.unavailable(retry_after=1), "delivered")
        emulator.set_outcome("tablet-erin", Answer.quota_exceeded(retry_after=1), "delivered")
        emulator.set_outcome("watch-frank", Answer.sender_mismatch())
        info = emulator.service_account_info(project_id=_PROJECT)
        with FCM.from_service_account(info, url=emulator.v1_url(_PROJECT)) as fcm:
            _v1(fcm, out)
        emulator.set_outcome("watch-gina", Answer.canonical("watch-gina-v2"))
        with FCM(emulator.api_key, url=emulator.legacy_url) as legacy:
            out.write(
                "\n3. The legacy API (Google no longer serves it; emulators and proxies do) also\n"
                "   answers with canonical ids, new tokens that replace old ones:\n"
            )
            _table(out, legacy.send(JSONMessage(["phone-alice", "watch-gina"], {"order": "1234"})), None)
        delivered = len(emulator.inbox("tablet-dan"))
        out.write(
            f"\nThe emulator's inbox for tablet-dan holds {delivered} message(s): retried once, "
            "delivered once.\nNext: README.rst (sending for real), docs/quickstart.rst (this in code), "
            "fcmclient send --help.\n"
        )
    return 0


def _v1(fcm: FCM, out: TextIO) -> None:
    """Parts 1 and 2: a v1 multicast, then its retry after the delay it asks for."""
    tokens = ["phone-alice", "phone-bob", "phone-carol", "tablet-dan", "tablet-erin", "watch-frank"]
    message = JSONMessage(
        tokens, {"order": "1234", "status": "shipped"}, message_title="Your order shipped", time_to_live=3600
    )
    out.write(f"1. HTTP v1, as with a real service account: one message to {len(tokens)} tokens:\n")
    result = fcm.send(message)
    delay = result.delay()
    _table(out, result, delay)
    retry = result.retry()
    if retry is not None:
        out.write(
            f"\n2. result.retry() holds the {len(retry.targets)} token(s) worth another try;\n"
            f"   waiting result.delay() = {delay:.1f} s, then sending it:\n"
        )
        time.sleep(delay)  # the demo shows the wait an app would schedule (a Celery countdown)
        _table(out, fcm.send(retry), None)
