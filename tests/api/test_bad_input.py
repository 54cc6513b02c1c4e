"""Bad input from the caller: a clear ValueError/TypeError before any request.

Each case runs against the emulator and then checks its counters: not one request (token
request included) reached it.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from fcmclient import FCM, InstallationMessage, JSONMessage, PlainTextMessage, TopicMessage
from fcmclient.messages import MAX_CONTENT_BYTES
from fcmclient.testing import FCMEmulator


@pytest.fixture
def clients(fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]) -> Iterator[dict[str, FCM]]:
    with (
        FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as legacy,
        FCM.from_service_account(fcm_service_account, url=fcm_emulator.v1_url("demo")) as v1,
    ):
        yield {"legacy": legacy, "v1": v1}
    assert fcm_emulator.stats.requests_total == 0, "a request was made"


BAD_MESSAGES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("int token", lambda: JSONMessage(["ok", 42]), TypeError, "registration id must be a str, got int"),
    ("None token", lambda: JSONMessage([None]), TypeError, "got NoneType"),
    ("bytes token", lambda: JSONMessage([b"tok"]), TypeError, "got bytes"),
    ("empty token", lambda: JSONMessage(["ok", ""]), ValueError, "must not be empty"),
    ("a str, not a list", lambda: JSONMessage("tok"), TypeError, "not a single str"),
    ("no tokens", lambda: JSONMessage([]), ValueError, "empty"),
    ("int fid", lambda: InstallationMessage([7]), TypeError, "must be a str"),
    ("int unicast token", lambda: PlainTextMessage(7), TypeError, "must be a str"),
    ("int topic", lambda: TopicMessage(topic=7), TypeError, "topic must be a str"),
    ("object in data", lambda: JSONMessage(["t"], {"k": object()}), TypeError, "JSON-serialisable"),
    ("set in data", lambda: JSONMessage(["t"], {"k": {1, 2}}), TypeError, "JSON-serialisable"),
    ("NaN in data", lambda: JSONMessage(["t"], {"k": math.nan}), TypeError, "JSON-serialisable"),
    ("bytes in data", lambda: JSONMessage(["t"], {"k": b"x"}), TypeError, "JSON-serialisable"),
    ("int data key", lambda: JSONMessage(["t"], {1: "x"}), TypeError, "keys must be str"),
    ("data not a dict", lambda: JSONMessage(["t"], ["x"]), TypeError, "data must be a dict"),
    ("object option", lambda: JSONMessage(["t"], collapse_key=object()), TypeError, "JSON-serialisable"),
    ("android not a dict", lambda: JSONMessage(["t"], android="high"), TypeError, "android must be a dict"),
    (
        "huge data",
        lambda: JSONMessage(["t"], {"k": "x" * MAX_CONTENT_BYTES}),
        ValueError,
        f"more than the {MAX_CONTENT_BYTES} bytes",
    ),
    (
        "huge option",
        lambda: TopicMessage(topic="news", apns={"payload": {"big": "é" * (MAX_CONTENT_BYTES // 2)}}),
        ValueError,
        "bytes of JSON",
    ),
]


@pytest.mark.parametrize(("case", "build", "error", "says"), BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
def test_bad_messages_are_refused_before_any_request(
    clients: dict[str, FCM], case: str, build: Callable[[], Any], error: type[Exception], says: str
) -> None:
    for client in clients.values():
        with pytest.raises(error, match=says):
            client.send(build())


def test_content_just_under_the_cap_is_left_for_fcm_to_judge(fcm_emulator: FCMEmulator) -> None:
    message = JSONMessage(["t"], {"k": "x" * (MAX_CONTENT_BYTES - 100)})
    with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as client:
        assert client.send(message).failed == {"t": "MessageTooBig"}


@pytest.mark.parametrize(
    ("case", "send", "error", "says"),
    [
        ("not a message", lambda c: c.send({"to": "tok"}), TypeError, "takes a JSONMessage"),
        (
            "ttl not an int (v1)",
            lambda c: c.send(JSONMessage(["t"], time_to_live="1h")),
            TypeError,
            "time_to_live",
        ),
        ("fid to legacy", lambda c: c.send(InstallationMessage(["f"])), ValueError, "HTTP v1"),
    ],
)
def test_bad_sends_are_refused_before_any_request(
    clients: dict[str, FCM], case: str, send: Callable[[FCM], Any], error: type[Exception], says: str
) -> None:
    protocols = ["legacy"] if "legacy" in case else ["v1"] if "v1" in case else ["legacy", "v1"]
    for protocol in protocols:
        with pytest.raises(error, match=says):
            send(clients[protocol])


# -- service-account files ----------------------------------------------------------------------


def pkcs8(key: Any, encryption: Any = None) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            encryption or serialization.NoEncryption(),
        ).decode()
    )


def broken_keys(rsa_pem: str) -> dict[str, str]:
    rsa_key = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    return {
        "garbage": "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
        "truncated": rsa_pem[: len(rsa_pem) // 2],
        "not PEM": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "public key": rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "encrypted": pkcs8(rsa_key, serialization.BestAvailableEncryption(b"secret")),
        "EC key": pkcs8(ec.generate_private_key(ec.SECP256R1())),
        "Ed25519 key": pkcs8(ed25519.Ed25519PrivateKey.generate()),
        "DSA key": pkcs8(dsa.generate_private_key(1024)),  # noqa: S505 - only has to be the wrong kind
    }


def test_unusable_private_keys_are_a_value_error_before_any_request(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    for case, pem in broken_keys(fcm_service_account["private_key"]).items():
        info = dict(fcm_service_account, private_key=pem)
        with pytest.raises(ValueError, match="private_key") as caught:
            FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"))
        assert pem.strip() not in str(caught.value), case
        assert "BEGIN" not in str(caught.value), case
    assert fcm_emulator.stats.requests_total == 0


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"client_email": None}, "lacks client_email"),
        ({"private_key": None}, "lacks private_key"),
        ({"token_uri": None}, "lacks token_uri"),
        ({"project_id": None}, "lacks project_id"),
        ({"client_email": "", "token_uri": 5}, "lacks client_email, token_uri"),
        ({"type": None}, "not a service-account key"),
        ({"type": "authorized_user"}, "not a service-account key"),
    ],
)
def test_service_account_file_missing_a_field(
    fcm_emulator: FCMEmulator,
    fcm_service_account: dict[str, str],
    tmp_path: pathlib.Path,
    change: dict[str, Any],
    says: str,
) -> None:
    info = {k: v for k, v in {**fcm_service_account, **change}.items() if v is not None}
    path = tmp_path / "key.json"
    path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match=says) as caught:
        FCM.from_service_account(path)
    assert str(path) in str(caught.value)
    assert fcm_service_account["private_key"] not in str(caught.value)
    assert fcm_emulator.stats.requests_total == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "not valid JSON"), ("{", "not valid JSON"), ("[1]", "JSON object"), ("7", "JSON object")],
)
def test_service_account_file_that_is_not_a_key_file(tmp_path: pathlib.Path, text: str, says: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=says):
        FCM.from_service_account(path)
