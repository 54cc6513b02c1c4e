"""Nothing lost, nothing doubled: properties over any tokens and any mix of per-token outcomes.

Duplicate tokens: a message keeps the first occurrence of each token, in order, so each token
is sent once and ends in exactly one bucket (``JSONMessage`` documents this).

The pure properties decode answers with the protocol decoders; the convergence properties run
the whole send -> retry loop against the emulator with a scripted queue of outcomes per token
(a few transient failures, then a verdict) and never sleep: every ``Retry-After`` scripted is 0
and the backoff base is 1 ms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcmclient import FCM, InstallationMessage, JSONMessage, Result
from fcmclient._protocol import legacy, v1
from fcmclient.outcomes import Bucket, Outcome
from fcmclient.testing import Answer as Script
from fcmclient.testing import FCMEmulator
from fcmclient.waits import MAX_RETRY_AFTER, QUOTA_WAIT
from tests.api.test_send_each import legacy_client as each_legacy_client
from tests.api.test_send_each import v1_client as each_v1_client

NOW = 1_700_000_000.0
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# Tokens drawn from a small pool so that duplicates are common.
token_lists = st.lists(st.sampled_from([f"tok-{i}" for i in range(12)]), min_size=1, max_size=25)


def buckets_of(result: Result) -> list[list[str]]:
    retry = result.retry()
    return [
        list(result.success),
        result.not_registered,
        list(result.failed),
        retry.targets if retry is not None else [],
    ]


def assert_partition(result: Result, targets: list[str]) -> None:
    """Every target in exactly one bucket; canonical ids only for successes."""
    buckets = buckets_of(result)
    placed = [token for bucket in buckets for token in bucket]
    assert sorted(placed) == sorted(targets)
    assert len(placed) == len(set(placed))
    assert set(result.canonical) <= set(result.success)
    assert result.needs_retry() == bool(buckets[3])
    assert list(result.outcomes) == targets


# -- duplicates ---------------------------------------------------------------------------------


@given(token_lists)
def test_duplicate_tokens_are_sent_once_in_first_order(tokens: list[str]) -> None:
    unique = list(dict.fromkeys(tokens))
    msg = JSONMessage(tokens, {"k": "v"})
    assert msg.registration_ids == unique
    assert json.loads(legacy.encode(msg)[1])["registration_ids"] == unique
    assert InstallationMessage(tokens).fids == unique


# -- legacy, pure -------------------------------------------------------------------------------

LEGACY_ENTRIES: list[tuple[dict[str, Any], Bucket]] = [
    ({"message_id": "0:1"}, Bucket.SUCCESS),
    ({"message_id": 7, "registration_id": "new-token"}, Bucket.SUCCESS),
    ({"error": "NotRegistered"}, Bucket.NOT_REGISTERED),
    ({"error": "InvalidRegistration"}, Bucket.FAILED),
    ({"error": "MismatchSenderId"}, Bucket.FAILED),
    ({"error": "MessageTooBig"}, Bucket.FAILED),
    ({"error": "DeviceMessageRateExceeded"}, Bucket.FAILED),
    ({"error": "SomethingNew"}, Bucket.FAILED),
    ({"error": "Unavailable"}, Bucket.RETRY),
    ({"error": "InternalServerError"}, Bucket.RETRY),
]


@given(token_lists, st.data())
def test_legacy_any_mix_puts_every_token_in_exactly_one_bucket(
    tokens: list[str], data: st.DataObject
) -> None:
    msg = JSONMessage(tokens, {"k": "v"}, message_title="T", collapse_key="c")
    targets = msg.targets
    picks = data.draw(st.lists(st.sampled_from(LEGACY_ENTRIES), min_size=len(targets), max_size=len(targets)))
    retry_after = data.draw(st.sampled_from([None, "0", "30", "-3", "soon", "9" * 30]))
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    answer = json.dumps({"multicast_id": 1, "results": [entry for entry, _ in picks]}).encode()
    decoded = legacy.decode(msg, 200, headers, answer, NOW)
    result = Result.from_outcomes(msg, decoded.outcomes, 1, multicast_id=decoded.multicast_id)
    assert_partition(result, targets)
    for token, (entry, bucket) in zip(targets, picks, strict=True):
        assert result.outcomes[token].bucket is bucket
        if "registration_id" in entry:
            assert result.canonical[token] == entry["registration_id"]
    assert 0.0 <= result.delay() <= MAX_RETRY_AFTER


@given(token_lists, st.integers(min_value=500, max_value=599))
def test_legacy_5xx_puts_every_token_in_retry(tokens: list[str], status: int) -> None:
    msg = JSONMessage(tokens)
    decoded = legacy.decode(msg, status, {}, b"<html>busy</html>", NOW)
    result = Result.from_outcomes(msg, decoded.outcomes, 1)
    assert_partition(result, msg.targets)
    assert result.retry() == msg


# -- v1, pure -----------------------------------------------------------------------------------


def v1_error(http: int, status: str, code: str | None) -> tuple[int, bytes]:
    details = [] if code is None else [{"@type": FCM_ERROR, "errorCode": code}]
    body = {"error": {"code": http, "status": status, "message": "said Google", "details": details}}
    return http, json.dumps(body).encode()


V1_ANSWERS: list[tuple[int, bytes, Bucket]] = [
    (200, b'{"name": "projects/p/messages/1"}', Bucket.SUCCESS),
    (*v1_error(404, "NOT_FOUND", "UNREGISTERED"), Bucket.NOT_REGISTERED),
    (*v1_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), Bucket.FAILED),
    (*v1_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), Bucket.FAILED),
    (*v1_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), Bucket.FAILED),
    (*v1_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), Bucket.RETRY),
    (*v1_error(503, "UNAVAILABLE", "UNAVAILABLE"), Bucket.RETRY),
    (*v1_error(500, "INTERNAL", "INTERNAL"), Bucket.RETRY),
    (*v1_error(404, "NOT_FOUND", None), Bucket.FAILED),
    (502, b"<html><title>502 Bad Gateway</title></html>", Bucket.RETRY),
    (200, b"<html>not json</html>", Bucket.FAILED),
]


@given(token_lists, st.data())
def test_v1_any_mix_puts_every_token_in_exactly_one_bucket(tokens: list[str], data: st.DataObject) -> None:
    msg = JSONMessage(tokens, {"k": "v"}, message_title="T")
    targets = msg.targets
    picks = data.draw(st.lists(st.sampled_from(V1_ANSWERS), min_size=len(targets), max_size=len(targets)))
    retry_after = data.draw(st.sampled_from([None, "0", "2", "garbage", "-1", "1" * 40]))
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    outcomes = [v1.decode(status, headers, body, NOW) for status, body, _ in picks]
    result = Result.from_outcomes(msg, outcomes, 1)
    assert_partition(result, targets)
    assert result.canonical == {}
    for token, (status, _, bucket) in zip(targets, picks, strict=True):
        outcome = result.outcomes[token]
        assert outcome.bucket is bucket
        if status == 429 and retry_after in (None, "garbage", "-1"):
            assert outcome.wait == QUOTA_WAIT
    assert 0.0 <= result.delay() <= MAX_RETRY_AFTER


# -- retry keeps everything but the targets -----------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@given(
    tokens=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=10, unique=True),
    data=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=4),
    title=st.none() | st.text(max_size=10),
    extra=st.dictionaries(st.sampled_from(["icon", "tag", "color"]), st.text(max_size=5), max_size=2),
    options=st.fixed_dictionaries(
        {},
        optional={
            "collapse_key": st.text(max_size=8),
            "priority": st.sampled_from(["high", "normal"]),
            "time_to_live": st.integers(0, 2_419_200),
            "dry_run": st.booleans(),
            "android": st.dictionaries(st.sampled_from(["priority", "ttl"]), st.text(max_size=4)),
            "shiny": json_values,
        },
    ),
    verdicts=st.data(),
)
def test_retry_keeps_payload_and_options(
    tokens: list[str],
    data: dict[str, Any],
    title: str | None,
    extra: dict[str, str],
    options: dict[str, Any],
    verdicts: st.DataObject,
) -> None:
    msg = JSONMessage(tokens, data, message_title=title, payload={"notification": extra}, **options)
    picks = verdicts.draw(st.lists(st.sampled_from(list(Bucket)), min_size=len(tokens), max_size=len(tokens)))
    outcomes = [Outcome(bucket, message_id="m" if bucket is Bucket.SUCCESS else None) for bucket in picks]
    retry = Result.from_outcomes(msg, outcomes, 1).retry()
    retried = [token for token, bucket in zip(tokens, picks, strict=True) if bucket is Bucket.RETRY]
    if not retried:
        assert retry is None
        return
    assert type(retry) is JSONMessage
    assert retry.targets == retried
    assert retry.data == msg.data
    assert retry.notification == msg.notification
    assert retry.options == msg.options
    assert retry.payload == {**msg.payload, "registration_ids": retried}
    assert v1.translate(retry, NOW) == v1.translate(msg, NOW)


# -- send -> retry loops converge (emulator) ----------------------------------------------------

TRANSIENT_V1 = [
    Script.unavailable(),
    Script.unavailable(retry_after=0),
    Script.internal(),
    Script.quota_exceeded(retry_after=0),
    Script.drop(),
    Script.http_error(502),
    Script.http_error(503, retry_after=0),
]
TRANSIENT_LEGACY = [Script.unavailable(), Script.unavailable(retry_after=0), Script.internal()]
FINAL = {
    "delivered": "success",
    "unregistered": "not_registered",
    "invalid": "failed",
    "sender_mismatch": "failed",
    "third_party_auth_error": "failed",
}


@pytest.fixture(scope="module")
def v1_client(fcm_emulator_server: FCMEmulator) -> Iterator[FCM]:
    info = fcm_emulator_server.service_account_info("demo")
    url = fcm_emulator_server.v1_url("demo")
    with FCM.from_service_account(info, url=url, max_workers=4, backoff=1) as client:
        yield client


@pytest.fixture(scope="module")
def legacy_client(fcm_emulator_server: FCMEmulator) -> Iterator[FCM]:
    with FCM(fcm_emulator_server.api_key, url=fcm_emulator_server.legacy_url, backoff=1) as client:
        yield client


def scripts(transient: list[Script]) -> st.SearchStrategy[dict[str, tuple[list[Script], str]]]:
    """Per token: up to three transient failures, then a final verdict."""
    per_token = st.tuples(st.lists(st.sampled_from(transient), max_size=3), st.sampled_from(sorted(FINAL)))
    names = st.lists(st.sampled_from([f"t{i:02d}" for i in range(20)]), min_size=1, max_size=12, unique=True)
    return names.flatmap(lambda tokens: st.fixed_dictionaries({token: per_token for token in tokens}))


def converge(
    client: FCM, emu: FCMEmulator, plan: dict[str, tuple[list[Script], str]], tokens: list[str]
) -> dict[str, list[str]]:
    """Run send -> retry until nothing is left; return every bucket each token landed in."""
    emu.reset()
    for token, (transient, final) in plan.items():
        emu.set_outcome(token, *transient, final)
    landed: dict[str, list[str]] = {token: [] for token in plan}
    message = JSONMessage(tokens, {"k": "v"}, message_title="T")
    rounds = 0
    while message is not None:
        rounds += 1
        assert rounds <= 4, "a token was retried more often than it was scripted to fail"
        result = client.send(message)
        assert_partition(result, message.targets)
        for name, bucket in zip(("success", "not_registered", "failed"), buckets_of(result)[:3], strict=True):
            for token in bucket:
                landed[token].append(name)
        wait = result.delay(rounds - 1)
        assert 0.0 <= wait <= 0.01  # scripted Retry-After 0 and a 1 ms backoff: nothing to sleep
        retry = result.retry()
        if retry is not None:
            assert retry.data == message.data
            assert retry.notification == message.notification
        message = retry
    return landed


def check_converged(
    emu: FCMEmulator, plan: dict[str, tuple[list[Script], str]], landed: dict[str, Any]
) -> None:
    for token, (_, final) in plan.items():
        assert landed[token] == [FINAL[final]], token  # settled exactly once, in the right bucket
        delivered = emu.inbox(token)
        assert len(delivered) == (1 if final == "delivered" else 0), token  # never doubled
        if delivered:
            assert delivered[0]["data"] == {"k": "v"}
            assert delivered[0]["notification"] == {"title": "T"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=scripts(TRANSIENT_V1), duplicate=st.booleans())
def test_v1_send_retry_loop_converges_with_nothing_lost_or_doubled(
    fcm_emulator_server: FCMEmulator, v1_client: FCM, plan: dict[str, Any], duplicate: bool
) -> None:
    tokens = list(plan) + (list(plan) if duplicate else [])
    landed = converge(v1_client, fcm_emulator_server, plan, tokens)
    check_converged(fcm_emulator_server, plan, landed)
    scripted_requests = sum(len(transient) + 1 for transient, _ in plan.values())
    assert fcm_emulator_server.stats.v1_requests == scripted_requests


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=scripts(TRANSIENT_LEGACY))
def test_legacy_send_retry_loop_converges_with_nothing_lost_or_doubled(
    fcm_emulator_server: FCMEmulator, legacy_client: FCM, plan: dict[str, Any]
) -> None:
    landed = converge(legacy_client, fcm_emulator_server, plan, list(plan))
    check_converged(fcm_emulator_server, plan, landed)


# -- send_each: every target of every message, in its own result --------------------------------

ANSWERS = ["delivered", "unregistered", "invalid", "sender_mismatch", "unavailable", "internal", "drop"]


@pytest.fixture(scope="module")
def each_emulator() -> Iterator[FCMEmulator]:
    with FCMEmulator() as emu:
        yield emu


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(
        st.lists(st.tuples(st.integers(0, 9999), st.sampled_from(ANSWERS)), min_size=1, max_size=5),
        max_size=8,
    ),
    protocol=st.sampled_from(["v1", "legacy"]),
)
def test_any_mix_puts_every_target_of_every_message_in_exactly_one_bucket_of_its_own_result(
    each_emulator: FCMEmulator, plan: list[list[tuple[int, str]]], protocol: str
) -> None:
    emu = each_emulator
    emu.reset()
    messages = []
    for index, targets in enumerate(plan):
        tokens = list(dict.fromkeys(f"m{index}-t{number}" for number, _ in targets))
        for number, answer in targets:
            emu.set_outcome(f"m{index}-t{number}", answer)
        messages.append(JSONMessage(tokens, {"n": str(index)}))
    make = each_v1_client if protocol == "v1" else each_legacy_client
    with make(emu, max_workers=3) as fcm:
        results = fcm.send_each(iter(messages))  # a generator: read as it goes
    assert [r.message for r in results] == messages
    for message, result in zip(messages, results, strict=True):
        retry = result.retry()
        placed = [*result.success, *result.not_registered, *result.failed, *(retry.targets if retry else [])]
        assert sorted(placed) == sorted(message.targets)  # each of its own targets, exactly once
