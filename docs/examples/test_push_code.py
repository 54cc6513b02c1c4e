"""A complete example of testing push code against the emulator (shown in docs/testing.rst).

It runs as part of fcm-client's own suite, so the page cannot drift from the code.
"""

from __future__ import annotations

from fcmclient import FCM, JSONMessage
from fcmclient.testing import Answer, FCMEmulator


def notify_followers(fcm: FCM, tokens: list[str], text: str) -> tuple[list[str], JSONMessage | None]:
    """The application code under test: send, and return the tokens to delete and the retry."""
    result = fcm.send(JSONMessage(tokens, {"text": text}, message_title="New post"))
    return list(result.not_registered), result.retry()


def test_dead_tokens_are_reported_and_busy_ones_retried(fcm_emulator: FCMEmulator) -> None:
    # Script what FCM answers, per token; anything unscripted is delivered.
    fcm_emulator.set_outcome("dead-phone", "unregistered")
    fcm_emulator.set_outcome("busy-phone", Answer.unavailable(retry_after=2), "delivered")

    info = fcm_emulator.service_account_info("demo")  # a fresh key the emulator trusts
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo")) as fcm:
        to_delete, retry = notify_followers(fcm, ["ok-phone", "dead-phone", "busy-phone"], "hi")
        assert to_delete == ["dead-phone"]
        assert retry is not None
        assert retry.registration_ids == ["busy-phone"]

        second = fcm.send(retry)  # the queued "delivered" outcome answers this time
        assert second.success.keys() == {"busy-phone"}

    # The device side: what each token received, in the HTTP v1 message shape.
    [message] = fcm_emulator.inbox("ok-phone")
    assert message["data"] == {"text": "hi"}
    assert message["notification"] == {"title": "New post"}
    assert len(fcm_emulator.inbox("busy-phone")) == 1
    assert fcm_emulator.inbox("dead-phone") == []
