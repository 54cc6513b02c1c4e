"""fcmclient.celery without a broker: tasks run eagerly (``apply``) against the emulator.

``Task.apply`` runs the retry chain in-process and ignores ``countdown``, so every test is
fast; a spy on ``task.retry`` records the countdowns and arguments the task asked for.
"""

from __future__ import annotations

import logging
import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CI") == "true":
    import celery  # CI installs the celery extra: a missing one must fail, not skip
else:
    celery = pytest.importorskip("celery", reason="the celery extra is not installed")

from kombu import serialization

from fcmclient import (
    FCM,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    Result,
    TopicMessage,
    outcomes,
)
from fcmclient.celery import (
    MESSAGE_CLASSES,
    TRANSPORT_ERROR,
    FCMTask,
    dump_message,
    fan_out,
    load_message,
    register_send_task,
)
from fcmclient.errors import FCMAuthenticationError, FCMRequestError, FCMResponseError
from fcmclient.messages import Message
from fcmclient.testing import Answer, FCMEmulator


class Recorder:
    """Collects what the hooks were given."""

    def __init__(self) -> None:
        self.results: list[tuple[Result, Message]] = []
        self.give_ups: list[tuple[Message, Result | None, BaseException | None]] = []
        self.retries: list[dict[str, Any]] = []

    def on_result(self, result: Result, message: Message) -> None:
        self.results.append((result, message))

    def on_give_up(self, message: Message, result: Result | None, error: BaseException | None) -> None:
        self.give_ups.append((message, result, error))


@pytest.fixture
def emu() -> Iterator[FCMEmulator]:
    with FCMEmulator() as emulator:
        yield emulator


@pytest.fixture
def app() -> Any:
    return celery.Celery("test-fcmclient", broker="memory://", set_as_current=False)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def spy_retries(task: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    original = task.retry

    def retry(*args: Any, **kwargs: Any) -> Any:
        recorder.retries.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(task, "retry", retry)


def legacy_task(
    app: Any,
    emu: FCMEmulator,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Any:
    task = register_send_task(
        app,
        lambda: FCM(api_key or emu.api_key, url=url or emu.legacy_url),
        recorder.on_result,
        on_give_up=recorder.on_give_up,
        **options,
    )
    spy_retries(task, recorder, monkeypatch)
    return task


def run(task: Any, message: Message) -> Any:
    try:
        # No throw=True: with it, apply() would raise the Retry instead of following it.
        return task.apply(args=(dump_message(message),)).get()
    finally:
        task.close_fcm()


def sends_to(emu: FCMEmulator, token: str) -> int:
    return sum(token in request.targets for request in emu.requests)


# Messages as dicts ---------------------------------------------------------------------------

MESSAGES = [
    JSONMessage(
        ["tok-1", "tok-2"],
        {"text": "héllo", "n": 3, "nested": {"a": [1, 2.5, None, True]}},
        message_title="Goal!",
        message_body="3:1",
        payload={"notification": {"sound": "default"}},
        collapse_key="score",
        time_to_live=0,
        priority="high",
        android={"direct_boot_ok": True},
    ),
    PlainTextMessage("tok-3", {"x": 1}, dry_run=True),
    TopicMessage(topic="news", message_title="Extra!"),
    TopicMessage(condition="'a' in topics && 'b' in topics", data={"k": "v"}),
    InstallationMessage(["fid-1"], {"k": "v"}),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages_survive_kombus_json_serializer(message: Message) -> None:
    content_type, encoding, body = serialization.dumps({"args": [dump_message(message)]}, serializer="json")
    assert content_type == "application/json"
    decoded = serialization.loads(body, content_type, encoding)
    rebuilt = load_message(decoded["args"][0])
    assert type(rebuilt) is type(message)
    assert rebuilt == message
    assert rebuilt.payload == message.payload


def test_the_allow_list_is_fcmclients_message_classes() -> None:
    assert dict(MESSAGE_CLASSES) == {
        "JSONMessage": JSONMessage,
        "PlainTextMessage": PlainTextMessage,
        "TopicMessage": TopicMessage,
        "InstallationMessage": InstallationMessage,
    }


@pytest.mark.parametrize(
    "name", ["os.system", "Message", "FCM", "subprocess.Popen", "__builtins__", "", None, 1]
)
def test_load_refuses_names_outside_the_allow_list(name: Any) -> None:
    with pytest.raises(ValueError, match="refusing message class"):
        load_message({"class": name, "state": {"registration_ids": ["t"]}})


@pytest.mark.parametrize(
    "dumped",
    [
        {"state": {"registration_ids": ["t"]}},
        {"class": "JSONMessage"},
        {"class": "JSONMessage", "state": {"registration_ids": ["t"]}, "module": "os"},
        {"class": "JSONMessage", "state": ["t"]},
    ],
)
def test_load_refuses_other_shapes(dumped: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="dumped message"):
        load_message(dumped)


def test_load_refuses_a_non_dict() -> None:
    with pytest.raises(TypeError, match="is a dict"):
        load_message(["JSONMessage", {}])  # type: ignore[arg-type]


def test_load_lets_the_constructor_judge_the_state() -> None:
    with pytest.raises(ValueError, match="registration_ids is empty"):
        load_message({"class": "JSONMessage", "state": {"registration_ids": []}})


def test_dump_refuses_subclasses() -> None:
    class MyMessage(JSONMessage):
        pass

    with pytest.raises(TypeError, match="can be dumped"):
        dump_message(MyMessage(["t"]))


# Retries --------------------------------------------------------------------------------------


def test_only_the_retry_targets_are_rescheduled_with_retry_after_as_countdown(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("dead", "unregistered")
    emu.set_outcome("flaky", Answer.unavailable(retry_after=3), "delivered")
    task = legacy_task(app, emu, recorder, monkeypatch)

    summary = run(task, JSONMessage(["ok", "dead", "flaky"], {"k": "v"}))

    assert len(recorder.retries) == 1
    retry = recorder.retries[0]
    assert retry["countdown"] == 3.0
    assert retry["args"] == (dump_message(JSONMessage(["flaky"], {"k": "v"})),)
    assert retry["kwargs"] == {}
    first, second = recorder.results
    assert first[0].success.keys() == {"ok"}
    assert first[0].not_registered == ["dead"]
    assert first[1].targets == ["ok", "dead", "flaky"]
    assert second[0].success.keys() == {"flaky"}
    assert second[1].targets == ["flaky"]
    assert summary == {
        "success": 1,
        "canonical": 0,
        "not_registered": 0,
        "failed": 0,
        "gave_up": 0,
    }
    assert [len(emu.inbox(t)) for t in ("ok", "dead", "flaky")] == [1, 0, 1]
    assert recorder.give_ups == []


def test_countdown_is_exponential_backoff_without_retry_after(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("t", "unavailable", "unavailable", "unavailable", "delivered")
    task = legacy_task(app, emu, recorder, monkeypatch)

    run(task, JSONMessage(["t"]))

    countdowns = [retry["countdown"] for retry in recorder.retries]
    assert len(countdowns) == 3
    for retry, countdown in enumerate(countdowns):
        assert 2**retry - 0.5 <= countdown <= 2**retry + 0.5
    assert len(emu.inbox("t")) == 1


def test_retries_stop_at_max_retries_and_the_rest_goes_to_on_give_up(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("doomed", *[Answer.unavailable(retry_after=1)] * 5)
    task = legacy_task(app, emu, recorder, monkeypatch, max_retries=2)

    summary = run(task, JSONMessage(["ok", "doomed"]))

    assert len(recorder.retries) == 2
    assert sends_to(emu, "doomed") == 3
    assert sends_to(emu, "ok") == 1
    [(message, result, error)] = recorder.give_ups
    assert message.targets == ["doomed"]
    assert error is None
    assert result is not None
    assert result.outcomes["doomed"].error == "Unavailable"
    assert summary["gave_up"] == 1
    assert len(recorder.results) == 3  # the app saw every attempt


def test_zero_max_retries_gives_up_at_once(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("t", "unavailable")
    task = legacy_task(app, emu, recorder, monkeypatch, max_retries=0)

    run(task, JSONMessage(["t"]))

    assert recorder.retries == []
    assert [m.targets for m, _, _ in recorder.give_ups] == [["t"]]


def test_default_give_up_logs_a_warning_with_token_prefixes_only(
    app: Any, emu: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    secret_token = "abcdefgh-the-rest-of-a-long-token"
    emu.set_outcome(secret_token, "unavailable")
    task = register_send_task(app, lambda: FCM(emu.api_key, url=emu.legacy_url), max_retries=0)

    with caplog.at_level(logging.WARNING, logger="fcmclient.celery"):
        run(task, JSONMessage([secret_token]))

    [record] = [r for r in caplog.records if r.name == "fcmclient.celery"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "giving up on 1 target(s) after 0 retries (Unavailable): abcdefgh..." in text
    assert secret_token not in text


def test_a_retry_is_scheduled_before_the_apps_handler_runs(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("t", "unavailable")

    def broken_handler(result: Result, message: Message) -> None:
        raise RuntimeError("database is down")

    task = register_send_task(app, lambda: FCM(emu.api_key, url=emu.legacy_url), broken_handler)
    spy_retries(task, recorder, monkeypatch)

    with pytest.raises(RuntimeError, match="database is down"):
        run(task, JSONMessage(["t"]))
    assert len(recorder.retries) == 1


def test_on_give_up_runs_even_when_the_handler_fails(app: Any, emu: FCMEmulator, recorder: Recorder) -> None:
    emu.set_outcome("t", "unavailable")

    def broken_handler(result: Result, message: Message) -> None:
        raise RuntimeError("database is down")

    task = register_send_task(
        app,
        lambda: FCM(emu.api_key, url=emu.legacy_url),
        broken_handler,
        on_give_up=recorder.on_give_up,
        max_retries=0,
    )
    with pytest.raises(RuntimeError):
        run(task, JSONMessage(["t"]))
    assert [m.targets for m, _, _ in recorder.give_ups] == [["t"]]


# Network and credential failures ------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_network_errors_retry_the_whole_message_with_backoff(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/fcm/send"
    task = legacy_task(app, emu, recorder, monkeypatch, url=url, max_retries=2)
    message = JSONMessage(["a", "b"], {"k": "v"})

    run(task, message)

    assert [retry["args"] for retry in recorder.retries] == [(dump_message(message),)] * 2
    for retry, record in enumerate(recorder.retries):
        assert 2**retry - 0.5 <= record["countdown"] <= 2**retry + 0.5
    [(given_up, result, error)] = recorder.give_ups
    assert given_up == message
    assert error is None
    assert result is not None
    assert {o.error for o in result.outcomes.values()} == {TRANSPORT_ERROR}
    assert "ConnectionError" in result.error_details["a"]


def test_a_rejected_api_key_is_not_retried(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = legacy_task(app, emu, recorder, monkeypatch, api_key="wrong-key")
    message = JSONMessage(["a", "b"])

    with pytest.raises(FCMAuthenticationError) as raised:
        run(task, message)

    assert recorder.retries == []
    assert recorder.results == []
    assert recorder.give_ups == [(message, None, raised.value)]


@pytest.mark.parametrize(
    ("project", "refused", "delivered", "given_up"),
    [
        ("other", None, set(), ["a", "b", "c"]),  # a project it may not send for: refused at once
        ("demo", "b", {"a"}, ["b", "c"]),  # PERMISSION_DENIED at b: a was delivered before
    ],
    ids=["refused-at-once", "refused-mid-send"],
)
def test_rejected_credentials_hand_settled_and_unsent_targets_to_the_hooks(
    app: Any,
    emu: FCMEmulator,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    project: str,
    refused: str | None,
    delivered: set[str],
    given_up: list[str],
) -> None:
    if refused is not None:
        emu.set_outcome(refused, Answer.http_error(403))
    info = emu.service_account_info("demo")  # may send for "demo" only
    task = register_send_task(
        app,
        lambda: FCM.from_service_account(info, url=emu.v1_url(project), max_workers=1),
        recorder.on_result,
        on_give_up=recorder.on_give_up,
    )
    spy_retries(task, recorder, monkeypatch)

    with pytest.raises(FCMAuthenticationError):
        run(task, JSONMessage(["a", "b", "c"]))

    assert recorder.retries == []
    [(result, sent)] = recorder.results
    assert sent.targets == ["a", "b", "c"]
    assert result.success.keys() == delivered
    [(unsent, last, error)] = recorder.give_ups
    assert last is result
    assert isinstance(error, FCMAuthenticationError)
    assert unsent.targets == given_up  # a delivered target is never given up on
    assert {target for target in delivered if emu.inbox(target)} == delivered


def test_a_result_of_another_message_on_the_exception_is_not_handed_over(
    app: Any, recorder: Recorder
) -> None:
    foreign = Result.from_outcomes(JSONMessage(["x"]), [outcomes.Outcome.success("m/1")], 1000)
    error = FCMAuthenticationError("refused")
    error.result = foreign

    class Refusing(FCM):
        def send(self, message: Message) -> Result:
            raise error

    task = register_send_task(
        app, lambda: Refusing("key"), recorder.on_result, on_give_up=recorder.on_give_up
    )
    message = JSONMessage(["a", "b"])

    with pytest.raises(FCMAuthenticationError):
        run(task, message)

    assert recorder.results == []  # the foreign result says nothing about this message
    assert recorder.give_ups == [(message, None, error)]


def test_a_v1_transport_failure_of_one_token_retries_that_token(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_outcome("b", "drop")
    info = emu.service_account_info("demo")
    task = register_send_task(
        app,
        lambda: FCM.from_service_account(info, url=emu.v1_url("demo")),
        recorder.on_result,
    )
    spy_retries(task, recorder, monkeypatch)

    run(task, JSONMessage(["a", "b"]))

    assert [load_message(r["args"][0]).targets for r in recorder.retries] == [["b"]]
    assert len(emu.inbox("a")) == len(emu.inbox("b")) == 1


@pytest.mark.parametrize(
    ("outcome", "error_type"),
    [(Answer.http_error(400), FCMRequestError), ("malformed", FCMResponseError)],
    ids=["bad-request", "malformed-answer"],
)
def test_a_request_fcm_refuses_is_never_retried_and_its_targets_are_handed_over(
    app: Any,
    emu: FCMEmulator,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    outcome: Any,
    error_type: type[Exception],
) -> None:
    emu.set_outcome("a", outcome)
    task = legacy_task(app, emu, recorder, monkeypatch)
    message = JSONMessage(["a", "b"], {"k": "v"})

    with pytest.raises(error_type) as raised:
        run(task, message)

    assert recorder.retries == []
    assert recorder.results == []
    assert recorder.give_ups == [(message, None, raised.value)]
    assert sends_to(emu, "a") == 1


def test_a_message_the_protocol_cannot_carry_is_handed_over_unsent(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = legacy_task(app, emu, recorder, monkeypatch)
    message = InstallationMessage(["fid-1"], {"k": "v"})  # installation IDs are v1 only

    with pytest.raises(ValueError, match="installation IDs") as raised:
        run(task, message)

    assert recorder.retries == []
    assert recorder.give_ups == [(message, None, raised.value)]
    assert emu.requests == []


def test_a_failing_factory_hands_the_targets_over(app: Any, recorder: Recorder) -> None:
    def factory() -> FCM:
        return FCM.from_service_account("/nonexistent/service-account.json")

    task = register_send_task(app, factory, recorder.on_result, on_give_up=recorder.on_give_up)
    message = JSONMessage(["a"])

    with pytest.raises(FileNotFoundError) as raised:
        run(task, message)

    assert recorder.give_ups == [(message, None, raised.value)]


def test_a_v1_token_endpoint_failure_retries_the_whole_message(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_token_outcome("drop")
    info = emu.service_account_info("demo")
    task = register_send_task(
        app,
        lambda: FCM.from_service_account(info, url=emu.v1_url("demo")),
        recorder.on_result,
        on_give_up=recorder.on_give_up,
    )
    spy_retries(task, recorder, monkeypatch)
    message = JSONMessage(["a", "b"])

    summary = run(task, message)

    assert [r["args"] for r in recorder.retries] == [(dump_message(message),)]
    first, second = recorder.results
    assert {o.error for o in first[0].outcomes.values()} == {TRANSPORT_ERROR}
    assert second[0].success.keys() == {"a", "b"}
    assert summary["success"] == 2
    assert recorder.give_ups == []


def test_a_retry_the_broker_refuses_is_handed_to_on_give_up(emu: FCMEmulator, recorder: Recorder) -> None:
    # A worker's request (not eager), and a broker nobody listens on: queueing the retry fails.
    app = celery.Celery("no-broker", broker=f"redis://127.0.0.1:{closed_port()}/0", set_as_current=False)
    app.conf.update(
        task_publish_retry=False,
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0},
    )
    emu.set_outcome("flaky", "unavailable")
    task = register_send_task(
        app,
        lambda: FCM(emu.api_key, url=emu.legacy_url),
        recorder.on_result,
        on_give_up=recorder.on_give_up,
    )
    task.push_request(id="task-1", retries=0, is_eager=False, called_directly=False, delivery_info={})
    try:
        with pytest.raises(celery.exceptions.Reject):
            task.run(dump_message(JSONMessage(["ok", "flaky"])))
    finally:
        task.pop_request()
        task.close_fcm()
        app.close()

    [(result, _)] = recorder.results
    assert result.success.keys() == {"ok"}
    [(given_up, last, error)] = recorder.give_ups
    assert given_up.targets == ["flaky"]
    assert last is result
    assert isinstance(error, celery.exceptions.Reject)


def test_every_target_reaches_the_app_exactly_once(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Answer.unavailable(retry_after=1)
    emu.set_outcome("dead", "unregistered")
    emu.set_outcome("bad", "invalid")
    emu.set_outcome("moved", Answer.canonical("new"))
    emu.set_outcome("once", flaky, "delivered")
    emu.set_outcome("twice", flaky, flaky, "delivered")
    emu.set_outcome("doomed", flaky, flaky, flaky, "delivered")
    emu.set_outcome("late-dead", flaky, "unregistered")
    task = legacy_task(app, emu, recorder, monkeypatch, max_retries=2)
    targets = ["ok", "dead", "bad", "moved", "once", "twice", "doomed", "late-dead"]

    run(task, JSONMessage(targets, {"k": "v"}))

    settled: list[tuple[str, str]] = []
    for result, message in recorder.results:
        assert result.message is message
        settled += [(t, "success") for t in result.success]
        settled += [(t, "not_registered") for t in result.not_registered]
        settled += [(t, "failed") for t in result.failed]
        retried = result.retry()
        # The rest of each attempt is retried: exactly the next attempt's targets, or given up.
        rest = sorted(set(message.targets) - {t for t, _ in settled})
        assert sorted(retried.targets if retried else []) == rest
    settled += [(t, "gave_up") for m, _, _ in recorder.give_ups for t in m.targets]
    assert sorted(settled) == sorted(
        [
            ("ok", "success"),
            ("dead", "not_registered"),
            ("bad", "failed"),
            ("moved", "success"),
            ("once", "success"),
            ("twice", "success"),
            ("doomed", "gave_up"),
            ("late-dead", "not_registered"),
        ]
    )
    assert [len(m.targets) for _, m in recorder.results] == [8, 4, 2]
    assert recorder.results[0][0].canonical == {"moved": "new"}
    assert all(len(emu.inbox(t)) == 1 for t in ("ok", "moved", "once", "twice"))


# One FCM per process ------------------------------------------------------------------------


def test_fcm_is_built_lazily_once_per_process(
    app: Any, emu: FCMEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[FCM] = []

    def factory() -> FCM:
        built.append(FCM(emu.api_key, url=emu.legacy_url))
        return built[-1]

    task = register_send_task(app, factory)
    assert built == []
    try:
        task.apply(args=(dump_message(JSONMessage(["a"])),)).get()
        task.apply(args=(dump_message(JSONMessage(["b"])),)).get()
        assert len(built) == 1
        assert task.fcm is built[0]

        # In a forked child the inherited connection is left alone and a new one built.
        monkeypatch.setattr(os, "getpid", lambda: -1)
        assert task.fcm is not built[0]
        assert len(built) == 2
    finally:
        task.close_fcm()
        built[0].close()


@pytest.mark.parametrize("signal", ["worker_process_shutdown", "worker_shutdown"])
def test_the_fcm_is_closed_when_the_worker_process_stops(app: Any, emu: FCMEmulator, signal: str) -> None:
    task = register_send_task(app, lambda: FCM(emu.api_key, url=emu.legacy_url))
    task.apply(args=(dump_message(JSONMessage(["a"])),)).get()
    first = task.fcm
    assert emu.stats.connections_active == 1  # the keep-alive connection of that FCM

    getattr(celery.signals, signal).send(sender=None, pid=os.getpid(), exitcode=0)

    deadline = time.monotonic() + 5
    while emu.stats.connections_active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.stats.connections_active == 0
    try:
        assert task.fcm is not first  # the next send builds a new one
    finally:
        task.close_fcm()


def test_a_subclass_is_a_send_task(app: Any, emu: FCMEmulator) -> None:
    seen: list[Result] = []

    class SendPush(FCMTask):
        name = "tests.send_push"
        max_retries = 1

        def fcm_factory(self) -> FCM:
            return FCM(emu.api_key, url=emu.legacy_url)

        def handle_result(self, result: Result, message: Message) -> None:
            seen.append(result)

    task = app.register_task(SendPush())
    emu.set_outcome("t", "unregistered")
    run(task, JSONMessage(["t"]))
    assert seen[0].not_registered == ["t"]


def test_a_task_without_a_factory_says_so(app: Any) -> None:
    task = app.register_task(type("Bare", (FCMTask,), {"name": "tests.bare"})())
    with pytest.raises(NotImplementedError, match="fcm_factory"):
        task.apply(args=(dump_message(JSONMessage(["t"])),)).get()


def test_register_send_task_options(app: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"), name="tests.send", max_retries=7, acks_late=True)
    assert task.name == "tests.send"
    assert task.max_retries == 7
    assert task.acks_late is True
    assert app.tasks["tests.send"] is task._get_current_object()
    other = celery.Celery("other", broker="memory://", set_as_current=False)
    assert "tests.send" not in other.tasks  # not a shared task


@pytest.mark.parametrize("max_retries", [None, -1, 1.5, True, "3"])
def test_there_is_always_a_retry_limit(app: Any, max_retries: Any) -> None:
    with pytest.raises(ValueError, match="max_retries must be an int >= 0"):
        register_send_task(app, lambda: FCM("key"), max_retries=max_retries)
    with pytest.raises(ValueError, match="max_retries must be an int >= 0"):
        type("Unlimited", (FCMTask,), {"name": "tests.unlimited", "max_retries": max_retries})


def test_a_limit_removed_at_run_time_stops_the_send(app: Any, emu: FCMEmulator, recorder: Recorder) -> None:
    task = register_send_task(
        app, lambda: FCM(emu.api_key, url=emu.legacy_url), on_give_up=recorder.on_give_up
    )
    task.max_retries = None
    with pytest.raises(ValueError, match="max_retries"):
        run(task, JSONMessage(["t"]))
    assert emu.requests == []
    assert [m.targets for m, _, _ in recorder.give_ups] == [["t"]]


def test_autoretry_for_is_refused(app: Any) -> None:
    with pytest.raises(TypeError, match="autoretry_for would send the whole message again"):
        register_send_task(app, lambda: FCM("key"), autoretry_for=(Exception,))
    with pytest.raises(TypeError, match="autoretry_for"):

        class AutoRetrying(FCMTask):
            autoretry_for = (ValueError,)


# Fan-out ------------------------------------------------------------------------------------


def test_fan_out_splits_tokens_into_chunk_tasks(app: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"))
    tokens = [f"tok-{i}" for i in range(1234)] + ["tok-0", "tok-1"]  # duplicates dropped

    group = fan_out(task, iter(tokens), {"k": "v"}, chunk_size=500, message_title="Hi")

    chunks = [load_message(sig.args[0]) for sig in group.tasks]
    assert [len(c.targets) for c in chunks] == [500, 500, 234]
    assert [t for c in chunks for t in c.targets] == tokens[:1234]
    assert all(c == JSONMessage(c.targets, {"k": "v"}, message_title="Hi") for c in chunks)
    assert all(sig.task == task.name for sig in group.tasks)
    for sig in group.tasks:  # each task's payload holds its own chunk only
        _, _, body = serialization.dumps(sig.args, serializer="json")
        assert body.count("tok-") == 500 or sig is group.tasks[-1]


def test_fan_out_default_chunk_is_500_and_fids_work(app: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"))
    group = fan_out(task, [f"f{i}" for i in range(1001)], message_class=InstallationMessage)
    chunks = [load_message(sig.args[0]) for sig in group.tasks]
    assert [len(c.targets) for c in chunks] == [500, 500, 1]
    assert all(isinstance(c, InstallationMessage) for c in chunks)


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, True])
def test_fan_out_refuses_bad_chunk_sizes(app: Any, chunk_size: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"))
    with pytest.raises(ValueError, match="chunk_size"):
        fan_out(task, ["t"], chunk_size=chunk_size)


def test_fan_out_refuses_a_single_string_and_bad_content(app: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"))
    with pytest.raises(TypeError, match="single str"):
        fan_out(task, "token")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        fan_out(task, ["t"], {"when": object()})
    with pytest.raises(TypeError, match="message_class"):
        fan_out(task, ["t"], message_class=TopicMessage)  # type: ignore[arg-type]


def test_fan_out_sends_every_token_once(app: Any, emu: FCMEmulator) -> None:
    task = register_send_task(app, lambda: FCM(emu.api_key, url=emu.legacy_url))
    tokens = [f"t{i}" for i in range(25)]
    try:
        group = fan_out(task, tokens, {"k": "v"}, chunk_size=10)
        summaries = group.apply().get()
    finally:
        task.close_fcm()
    assert [s["success"] for s in summaries] == [10, 10, 5]
    assert [len(r.targets) for r in emu.requests] == [10, 10, 5]
    assert all(len(emu.inbox(t)) == 1 for t in tokens)


def test_fan_out_of_no_tokens_is_an_empty_group(app: Any) -> None:
    task = register_send_task(app, lambda: FCM("key"))
    assert list(fan_out(task, [], {"k": "v"}).tasks) == []


# Packaging ----------------------------------------------------------------------------------


def test_import_fcmclient_never_imports_celery() -> None:
    code = (
        "import sys, fcmclient, fcmclient.api, fcmclient.testing\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_celery_the_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['celery'] = None  # as if it were not installed\n"
        "try:\n"
        "    import fcmclient.celery\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "fcmclient.celery needs Celery: pip install 'fcm-client[celery]'"


def test_the_public_surface_is_pinned_and_documented() -> None:
    import fcmclient.celery

    assert fcmclient.celery.__all__ == [
        "DEFAULT_MAX_RETRIES",
        "DEFAULT_CHUNK_SIZE",
        "DEFAULT_TASK_NAME",
        "TRANSPORT_ERROR",
        "MESSAGE_CLASSES",
        "dump_message",
        "load_message",
        "FCMTask",
        "register_send_task",
        "fan_out",
        "DEFAULT_BATCH_TASK_NAME",
        "FCMBatchTask",
        "register_send_each_task",
        "DEFAULT_TOPIC_TASK_NAME",
        "FCMTopicTask",
        "TopicChange",
        "register_topic_task",
    ]
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "celery.rst").read_text()
    undocumented = [name for name in fcmclient.celery.__all__ if f"fcmclient.celery.{name}" not in page]
    assert undocumented == []
