"""Secrets (API keys, private keys, access tokens) never appear in what the library shows.

tests/conftest.py watches the whole run: every ``fcmclient`` log record at DEBUG and the
message of every ``FCMError``/``requests.RequestException`` is scanned at the end for every
secret the suite created. The tests here check that watch, then the things it cannot see:
reprs, pickles, tracebacks, CLI output; and TLS verification, which keeps secrets off the
wire to a stranger.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import pickle
import socket
import ssl
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3

from fcmclient import FCM, FCMAuthenticationError, FCMError, JSONMessage, TopicMessage
from fcmclient.testing import Answer, FCMEmulator
from tests.conftest import SecretWatch, make_private_key_pem
from tests.emulator.emu_support import self_signed_certificate
from tests.loopback import RawServer, hang

API_KEY = "AAAA1234:APA91bSecretServerKey-9f8e7d6c5b4a"


def shown(*things: object) -> str:
    """Everything a user could see of ``things``: str, repr and, for exceptions, the traceback."""
    parts = []
    for thing in things:
        parts += [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            parts.append("".join(traceback.format_exception(thing)))
            result = getattr(thing, "result", None)
            if result is not None:
                parts += [repr(result), repr(result.outcomes)]
    return "\n".join(parts)


def assert_clean(watch: SecretWatch, text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert watch.scan({text: "shown"}) == []


@pytest.fixture
def v1(fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]) -> Iterator[FCM]:
    with FCM.from_service_account(fcm_service_account, url=fcm_emulator.v1_url("demo")) as client:
        yield client


# -- the watch itself ---------------------------------------------------------------------------


def test_the_watch_finds_registered_secrets_and_secret_shapes(secret_watch: SecretWatch) -> None:
    pem = make_private_key_pem()
    middle = pem.splitlines()[len(pem.splitlines()) // 2]
    secret_watch.secret("canary-0123456789abcdef", "API key")
    found = secret_watch.scan(
        {
            "key canary-0123456789abcdef here": "a",
            f"partial key ...{middle}...": "b",
            "-----BEGIN RSA PRIVATE KEY-----": "c",
            "Bearer emu." + "ab12" * 10: "d",
            "nothing to see": "e",
        }
    )
    assert sorted(leak.split(":")[0] for leak in found) == ["a", "b", "c", "d"]


def test_the_watch_sees_debug_logs_and_error_messages(
    secret_watch: SecretWatch, v1: FCM, fcm_emulator: FCMEmulator
) -> None:
    fcm_emulator.set_outcome("watch-probe-token", "unregistered")
    v1.send(JSONMessage(["watch-probe-token"]))
    assert any("v1 send to watch-pr...: HTTP 404 not_registered" in text for text in secret_watch.texts)
    with pytest.raises(FCMError):
        raise FCMError("watch-probe-message")
    assert "watch-probe-message" in secret_watch.texts


# -- logging ------------------------------------------------------------------------------------


def test_every_request_is_logged_at_debug_with_token_prefixes_only(
    fcm_emulator: FCMEmulator, v1: FCM, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = ["device-token-aaaa-1111", "device-token-bbbb-2222", "device-token-cccc-3333"]
    fcm_emulator.set_outcome(tokens[1], "drop")
    with caplog.at_level(logging.DEBUG, logger="fcmclient"):
        v1.send(JSONMessage(tokens))
        with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as legacy:
            legacy.send(JSONMessage(tokens))
        v1.subscribe_to_topic(tokens, "news")
        v1.unsubscribe_from_topic(tokens[:1], "news")
        v1.topic_subscriptions(tokens[2])
    lines = [r.getMessage() for r in caplog.records if r.name == "fcmclient"]
    assert "fetching an access token" in lines
    assert (
        "access token 1 fetched, valid for 3599 s" in lines
        or "access token 1 fetched, valid for 3600 s" in lines
    )
    assert sum(line.startswith("v1 send to device-t...") for line in lines) == 3  # one per request
    assert "v1 send to device-t... failed in transport: ConnectionError" in lines
    assert "legacy send to 3 target(s), first device-t..." in lines
    assert "legacy answer HTTP 200 for 3 target(s)" in lines
    assert sum(line.startswith("v1 subscribe device-t...: HTTP 200 success") for line in lines) == 3
    assert "v1 unsubscribe device-t...: HTTP 200 success" in lines
    assert "v1 list topics of device-t...: HTTP 200 read" in lines
    for line in lines:
        assert not any(token in line for token in tokens)
        assert fcm_emulator.api_key not in line


# -- reprs, pickles, exceptions -----------------------------------------------------------------


def test_reprs_hold_no_secret(
    secret_watch: SecretWatch, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], v1: FCM
) -> None:
    result = v1.send(JSONMessage(["a", "b"], {"k": "v"}, message_title="T"))
    topic_result = v1.subscribe_to_topic(["a", "b"], "news")
    with FCM(API_KEY, url=fcm_emulator.legacy_url) as legacy:
        text = shown(
            v1, legacy, result, result.message, result.outcomes, TopicMessage(topic="t"), vars(result)
        )
        text += shown(topic_result, topic_result.outcomes, vars(topic_result))
    assert_clean(secret_watch, text, API_KEY, fcm_service_account["private_key"].splitlines()[1])


def test_pickles_hold_no_secret(secret_watch: SecretWatch, fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.set_outcome("b", "unavailable")
    results: list[Any] = [v1.send(JSONMessage(["a", "b"], {"k": "v"}))]
    fcm_emulator.set_outcome("b", "unavailable")
    results.append(v1.subscribe_to_topic(["a", "b"], "news"))
    with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as legacy:
        results.append(legacy.send(JSONMessage(["a", "b"])))
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(legacy)
    for result in results:
        data = pickle.dumps(result)
        assert pickle.loads(data).success == result.success  # noqa: S301 - our own pickle
        assert_clean(secret_watch, data.decode("latin-1"), fcm_emulator.api_key)


def test_exceptions_hold_no_secret(
    secret_watch: SecretWatch, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    raised: list[BaseException] = []

    def collect(client: FCM, message: JSONMessage) -> None:
        with pytest.raises((FCMError, requests.RequestException, ValueError)) as caught:
            client.send(message)
        raised.append(caught.value)

    with FCM(API_KEY, url=fcm_emulator.legacy_url) as wrong_key:
        collect(wrong_key, JSONMessage(["a"]))  # 401
    with RawServer(hang()) as server, FCM(fcm_emulator.api_key, url=server.url(), timeout=0.2) as legacy:
        collect(legacy, JSONMessage(["a"]))  # timeout
    forged = dict(fcm_service_account, private_key=make_private_key_pem())
    with FCM.from_service_account(forged, url=fcm_emulator.v1_url("demo")) as client:
        collect(client, JSONMessage(["a"]))  # the token endpoint refuses the signature
    with FCM.from_service_account(fcm_service_account, url=fcm_emulator.v1_url("elsewhere")) as client:
        collect(client, JSONMessage(["a", "b"]))  # 403 on a project the account may not use
    with FCM.from_service_account(fcm_service_account, url=fcm_emulator.v1_url("demo")) as client:
        fcm_emulator.set_token_outcome(Answer.http_error(503))
        collect(client, JSONMessage(["a"]))  # token endpoint outage
    with pytest.raises(ValueError, match="private_key") as bad_key:
        FCM.from_service_account(dict(fcm_service_account, private_key=forged["private_key"][:300]))
    raised.append(bad_key.value)
    with pytest.raises(ValueError, match="line break") as bad_api_key:
        FCM(API_KEY + "\n")
    raised.append(bad_api_key.value)
    assert [type(e).__name__ for e in raised] == [
        "FCMAuthenticationError",
        "ReadTimeout",
        "FCMAuthenticationError",
        "FCMAuthenticationError",
        "HTTPError",
        "ValueError",
        "ValueError",
    ]
    text = shown(*raised)
    assert_clean(
        secret_watch,
        text,
        API_KEY,
        fcm_emulator.api_key,
        forged["private_key"].splitlines()[1],
        fcm_service_account["private_key"].splitlines()[-2],
    )
    assert isinstance(raised[3], FCMAuthenticationError)
    assert raised[3].result is not None  # the partial result travels, without secrets


# -- CLI output ---------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> str:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "FCM_API_KEY")
    }
    done = subprocess.run(
        [sys.executable, "-m", "fcmclient", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
        check=False,
    )
    return done.stdout + done.stderr


def test_cli_output_holds_no_secret(
    secret_watch: SecretWatch,
    fcm_emulator: FCMEmulator,
    fcm_service_account: dict[str, str],
    tmp_path: pathlib.Path,
) -> None:
    account = tmp_path / "sa.json"
    account.write_text(json.dumps(fcm_service_account))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(dict(fcm_service_account, private_key=make_private_key_pem())))
    report = tmp_path / "report.jsonl"
    unreachable = tmp_path / "unreachable.jsonl"
    with socket.socket() as closed:  # a port that was free a moment ago: nothing listens there
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/fcm/send"
    fcm_emulator.set_outcome("t2", "unavailable")
    outputs = [
        run_cli(
            "send", "--service-account", str(account), "--url", fcm_emulator.v1_url("demo"),
            "--token", "t1", "--token", "t2", "--retries", "1", "--report", str(report), env={},
        ),
        run_cli("send", "--service-account", str(forged), "--url", fcm_emulator.v1_url("demo"), "--token", "t1", env={}),
        run_cli("send", "--url", fcm_emulator.legacy_url, "--token", "t1", env={"FCM_API_KEY": fcm_emulator.api_key}),
        run_cli("send", "--url", fcm_emulator.legacy_url, "--token", "t1", env={"FCM_API_KEY": API_KEY}),
        run_cli("send", "--url", fcm_emulator.legacy_url, "--token", "t1", env={"FCM_API_KEY": API_KEY + "\n"}),
        # A transport failure: its detail goes to the report (it must not carry the request).
        run_cli("send", "--url", dead_url, "--token", "t1", "--report", str(unreachable), env={"FCM_API_KEY": API_KEY}),
    ]  # fmt: skip
    assert "credentials rejected" in outputs[1]
    assert "line break" in outputs[4]
    assert "TRANSPORT_ERROR" in unreachable.read_text()
    text = "\n".join(outputs) + report.read_text() + unreachable.read_text()
    assert_clean(
        secret_watch,
        text,
        API_KEY,
        fcm_emulator.api_key,
        fcm_service_account["private_key"].splitlines()[1],
        json.loads(forged.read_text())["private_key"].splitlines()[1],
    )


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FCMEmulator, pathlib.Path]]:
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FCMEmulator(ssl_context=context) as emu:
        yield emu, cert


def test_tls_is_verified_by_default(https_emulator: tuple[FCMEmulator, pathlib.Path]) -> None:
    emu, _ = https_emulator
    info = emu.service_account_info("demo")
    with (
        FCM.from_service_account(info, url=emu.v1_url("demo")) as v1,
        pytest.raises(requests.exceptions.SSLError),
    ):
        v1.send(JSONMessage(["a"]))  # the self-signed certificate of the token endpoint is refused
    with FCM(emu.api_key, url=emu.legacy_url) as legacy, pytest.raises(requests.exceptions.SSLError):
        legacy.send(JSONMessage(["a"]))
    assert emu.stats.requests_total == 0  # no request (and no secret) went out


def test_verify_takes_a_ca_bundle_path(https_emulator: tuple[FCMEmulator, pathlib.Path]) -> None:
    emu, cert = https_emulator
    info = emu.service_account_info("demo")
    with FCM.from_service_account(info, url=emu.v1_url("demo"), verify=str(cert)) as v1:
        assert list(v1.send(JSONMessage(["a"])).success) == ["a"]
    with FCM(emu.api_key, url=emu.legacy_url, verify=str(cert)) as legacy:
        assert list(legacy.send(JSONMessage(["b"])).success) == ["b"]


def test_verify_false_is_an_explicit_opt_out(https_emulator: tuple[FCMEmulator, pathlib.Path]) -> None:
    emu, _ = https_emulator
    with (
        FCM(emu.api_key, url=emu.legacy_url, verify=False) as legacy,
        pytest.warns(urllib3.exceptions.InsecureRequestWarning),
    ):
        assert list(legacy.send(JSONMessage(["c"])).success) == ["c"]
