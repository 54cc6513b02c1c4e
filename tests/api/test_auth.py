"""Access-token caching and refresh, credential loading and its errors."""

from __future__ import annotations

import datetime
import pathlib
import threading
import time
import urllib.parse
from typing import Any

import pytest
import requests
import responses
from google.auth import jwt

from fcmclient import FCM, FCMAuthenticationError, JSONMessage
from fcmclient._send.auth import GOOGLE_TOKEN_URI
from fcmclient._send.tokens import REFRESH_MARGIN, AccessToken, TokenSource
from tests.conftest import TOKEN_URI, V1_SEND
from tests.timing import Arrivals


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_fetch(lifetime: float = 3600.0) -> tuple[Any, list[str]]:
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"token-{len(issued)}")
        return issued[-1], lifetime

    return fetch, issued


def test_token_is_cached_until_shortly_before_expiry() -> None:
    clock = FakeClock()
    fetch, issued = counting_fetch(3600.0)
    source = TokenSource(fetch, clock)
    first = source.get()
    clock.now += 3600.0 - REFRESH_MARGIN - 1
    assert source.get() is first
    clock.now += 2
    second = source.get()
    assert second.value == "token-1"
    assert issued == ["token-0", "token-1"]


def test_short_lived_tokens_refresh_at_half_life() -> None:
    clock = FakeClock()
    fetch, issued = counting_fetch(60.0)
    source = TokenSource(fetch, clock)
    source.get()
    clock.now += 29
    source.get()
    clock.now += 2
    source.get()
    assert len(issued) == 2


def test_invalidate_forgets_only_the_token_it_names() -> None:
    fetch, issued = counting_fetch()
    source = TokenSource(fetch, FakeClock())
    old = source.get()
    source.invalidate(old)
    new = source.get()
    source.invalidate(old)  # a late verdict on the old token must not drop the new one
    assert source.get() is new
    assert issued == ["token-0", "token-1"]


def test_many_threads_needing_a_token_cause_one_fetch() -> None:
    asking = Arrivals()
    calls: list[int] = []

    def slow_fetch() -> tuple[str, float]:
        calls.append(1)
        asking.wait(16, 5.0)  # the fetch lasts until every thread has asked for a token
        return "t", 3600.0

    source = TokenSource(slow_fetch)
    got: list[str] = []

    def need_a_token() -> None:
        asking.arrive()
        got.append(source.get().value)

    threads = [threading.Thread(target=need_a_token) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert calls == [1]
    assert got == ["t"] * 16


def test_token_value_never_appears_in_repr() -> None:
    source = TokenSource(lambda: ("very-secret-token", 3600.0))
    assert "very-secret-token" not in repr(source.get())


def test_token_uri_from_the_key_file_is_honoured(service_account_info: dict[str, Any]) -> None:
    info = dict(service_account_info, token_uri="https://tokens.example.test/oauth")
    with responses.RequestsMock() as mock, FCM.from_service_account(info) as fcm:
        mock.add(
            responses.POST,
            "https://tokens.example.test/oauth",
            json={"access_token": "a", "expires_in": 3600},
        )
        mock.add(responses.POST, V1_SEND, json={"name": "n/1"})
        assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}
        body = mock.calls[0].request.body
        form = urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else str(body))
    # The grant goes to the file's token_uri, but the assertion's audience stays Google's
    # token endpoint, as google-auth signs it (fcmclient._send.auth.GOOGLE_TOKEN_URI).
    claims = jwt.decode(form["assertion"][0], verify=False)
    assert claims["aud"] == GOOGLE_TOKEN_URI


class StaticCredentials:
    """Stands in for any non-service-account google-auth credentials."""

    def __init__(self, fail: bool = False) -> None:
        self.token: str | None = None
        self.expiry: datetime.datetime | None = None
        self.project_id = "from-credentials"
        self.fail = fail
        self.timeouts: list[Any] = []

    def refresh(self, request: Any) -> None:
        from google.auth import exceptions

        if self.fail:
            raise exceptions.RefreshError("('invalid_grant: Bad Request', {'error': 'invalid_grant'})")
        response = request(url=TOKEN_URI, method="POST", body=b"")
        self.timeouts.append(response.status)
        self.token = "generic-token"
        self.expiry = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(
            minutes=30
        )


def test_other_google_credentials_are_refreshed_through_google_auth_with_our_timeout() -> None:
    credentials = StaticCredentials()
    with responses.RequestsMock() as mock, FCM(credentials=credentials, timeout=4.0) as fcm:
        mock.add(
            responses.POST,
            TOKEN_URI,
            json={},
            match=[responses.matchers.request_kwargs_matcher({"timeout": 4.0})],
        )
        mock.add(
            responses.POST,
            "https://fcm.googleapis.com/v1/projects/from-credentials/messages:send",
            json={"name": "n/1"},
            match=[responses.matchers.header_matcher({"Authorization": "Bearer generic-token"})],
        )
        assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}


def test_regression_other_credentials_refresh_ignored_the_requests_options() -> None:
    # The refresh of non-service-account credentials went out with the timeout only: a
    # proxy or private CA given to FCM() was not used for it.
    options = {"timeout": 4.0, "verify": "/etc/custom-ca.pem", "cert": ("/tls/c.pem", "/tls/k.pem")}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(
            responses.POST, TOKEN_URI, json={}, match=[responses.matchers.request_kwargs_matcher(options)]
        )
        mock.add(
            responses.POST,
            "https://fcm.googleapis.com/v1/projects/from-credentials/messages:send",
            json={"name": "n/1"},
            match=[responses.matchers.request_kwargs_matcher(options)],
        )
        with FCM(credentials=StaticCredentials(), **options) as fcm:
            assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}


def test_the_service_account_grant_uses_the_requests_options(service_account_info: dict[str, Any]) -> None:
    options = {"timeout": 4.0, "verify": "/etc/custom-ca.pem"}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(
            responses.POST,
            TOKEN_URI,
            json={"access_token": "a", "expires_in": 3600},
            match=[responses.matchers.request_kwargs_matcher(options)],
        )
        mock.add(responses.POST, V1_SEND, json={"name": "n/1"})
        with FCM.from_service_account(service_account_info, **options) as fcm:
            assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}


def test_other_credentials_refresh_error_is_an_authentication_error() -> None:
    with (
        FCM(credentials=StaticCredentials(fail=True)) as fcm,
        pytest.raises(FCMAuthenticationError, match="invalid_grant"),
    ):
        fcm.send(JSONMessage(["t"]))


def test_v1_needs_a_project() -> None:
    class NoProject:
        pass

    with pytest.raises(ValueError, match="project_id"):
        FCM(credentials=NoProject())
    # A url with the placeholder still needs the project, or it would post to /projects//.
    with pytest.raises(ValueError, match="project_id"):
        FCM(credentials=NoProject(), url="http://127.0.0.1:9/v1/projects/{project_id}/messages:send")
    with FCM(credentials=NoProject(), url="http://127.0.0.1:9/v1/projects/p/messages:send") as fcm:
        assert fcm.url == "http://127.0.0.1:9/v1/projects/p/messages:send"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "authorized_user"}, "not a service-account key"),
        ({"client_email": None}, "lacks client_email"),
        ({"private_key": ""}, "lacks private_key"),
        ({"project_id": None}, "lacks project_id"),
        ({"token_uri": 5}, "lacks token_uri"),
    ],
)
def test_invalid_service_account_info_is_named(
    service_account_info: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    info = {k: v for k, v in {**service_account_info, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=message) as caught:
        FCM.from_service_account(info)
    assert service_account_info["private_key"].splitlines()[1] not in str(caught.value)


def test_bad_private_key_is_a_clear_value_error_without_the_key(
    service_account_info: dict[str, Any],
) -> None:
    broken = "-----BEGIN PRIVATE KEY-----\nTUlJQ1hBSUJBQUtCZ1FDcXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="private_key") as caught:
        FCM.from_service_account(dict(service_account_info, private_key=broken))
    assert "TUlJQ1hBSUJBQUtCZ1FDcXNlY3JldA" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_service_account_file_that_is_not_json(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sa.json"
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FCM.from_service_account(path)


def test_missing_service_account_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        FCM.from_service_account(tmp_path / "absent.json")


def test_regression_each_waiting_thread_repeated_a_failed_token_fetch() -> None:
    # When the fetch failed, every thread queued on the lock fetched again in turn: with a
    # hanging token endpoint, 16 threads waited 16 timeouts. They now share the one failure.
    asking = Arrivals()
    calls: list[int] = []

    def failing_fetch() -> tuple[str, float]:
        calls.append(1)
        asking.wait(8, 5.0)  # the fetch fails once every thread has asked for a token
        raise requests.ConnectTimeout("token endpoint timed out")

    source = TokenSource(failing_fetch)
    errors: list[BaseException] = []

    def worker() -> None:
        asking.arrive()
        try:
            source.get()
        except requests.ConnectTimeout as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert calls == [1]
    assert len(errors) == 8
    assert all("token endpoint timed out" in str(error) for error in errors)


def test_a_call_after_a_failed_fetch_tries_again() -> None:
    outcomes: list[Any] = [requests.ConnectionError("down"), ("fresh", 3600.0)]

    def fetch() -> tuple[str, float]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    source = TokenSource(fetch, FakeClock())
    with pytest.raises(requests.ConnectionError):
        source.get()
    assert source.get().value == "fresh"
    assert source.fetches == 1


def test_service_account_credentials_can_be_given_directly(service_account_info: dict[str, Any]) -> None:
    from google.oauth2 import service_account

    info = dict(service_account_info, token_uri="https://tokens.example.test/oauth")
    credentials = service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(
            responses.POST,
            "https://tokens.example.test/oauth",
            json={"access_token": "direct-token", "expires_in": 3600},
        )
        mock.add(
            responses.POST,
            V1_SEND,
            json={"name": "n/1"},
            match=[responses.matchers.header_matcher({"Authorization": "Bearer direct-token"})],
        )
        mock.add(
            responses.POST,
            "https://fcm.googleapis.com/v1/projects/elsewhere/messages:send",
            json={"name": "n/2"},
        )
        with FCM(credentials=credentials) as fcm:  # the project comes from the credentials
            assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}
        with FCM(credentials=credentials, project_id="elsewhere") as fcm:
            assert fcm.send(JSONMessage(["t"])).success == {"t": "n/2"}
        body = mock.calls[0].request.body
        form = urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else str(body))
    claims = jwt.decode(form["assertion"][0], verify=False)
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"


class ScopedCredentials(StaticCredentials):
    """Credentials that, like google.auth.default()'s, must be scoped before use."""

    requires_scopes = True

    def __init__(self, scopes: list[str] | None = None) -> None:
        super().__init__()
        self.scopes = scopes

    def with_scopes(self, scopes: list[str], default_scopes: Any = None) -> ScopedCredentials:
        return ScopedCredentials(list(scopes))

    def refresh(self, request: Any) -> None:
        if not self.scopes:
            raise AssertionError("refreshed without a scope: FCM would refuse the token")
        super().refresh(request)


def test_credentials_that_need_a_scope_get_the_fcm_scope() -> None:
    from google.auth import credentials as google_credentials

    google_credentials.Scoped.register(ScopedCredentials)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.POST, TOKEN_URI, json={})
        mock.add(
            responses.POST,
            "https://fcm.googleapis.com/v1/projects/from-credentials/messages:send",
            json={"name": "n/1"},
        )
        with FCM(credentials=ScopedCredentials()) as fcm:
            assert fcm.send(JSONMessage(["t"])).success == {"t": "n/1"}


def test_no_thread_waits_for_another_threads_fetch_longer_than_wait() -> None:
    """The lock around a fetch is waited on for at most ``wait`` seconds (FCM gives it the
    request bound, the most one fetch can take): a fetch that overstays, or a lock nobody
    will release, costs a send that long, never a hang."""
    fetching = threading.Event()
    release = threading.Event()

    def stuck_fetch() -> tuple[str, float]:
        fetching.set()
        release.wait(5.0)
        return "late", 3600.0

    source = TokenSource(stuck_fetch, wait=0.05)
    first = threading.Thread(target=source.get)
    first.start()
    try:
        assert fetching.wait(5.0)
        with pytest.raises(requests.Timeout, match=r"took over 0\.05 s"):
            source.get()
        source.invalidate(AccessToken("other", 0.0, 0.0))  # gives up waiting too
        assert not release.is_set()  # both returned while the fetch was still under way
    finally:
        release.set()
        first.join(5.0)
    assert source.get().value == "late"
    assert source.fetches == 1


def test_regression_forgetting_an_expired_token_waited_for_another_threads_fetch() -> None:
    """invalidate() waited for the lock while another thread fetched a token; on the
    fan-out engine's loop that stalled every send of the FCM (review of issue 16). It now
    returns at once: the fetch under way replaces the token anyway."""
    fetching = threading.Event()
    release = threading.Event()

    def slow_fetch() -> tuple[str, float]:
        fetching.set()
        release.wait(5.0)
        return "new", 3600.0

    source = TokenSource(slow_fetch, wait=5.0)
    first = threading.Thread(target=source.get)
    first.start()
    try:
        assert fetching.wait(5.0)
        started = time.monotonic()
        source.invalidate(AccessToken("old", 0.0, 0.0))
        assert time.monotonic() - started < 0.5
        assert not release.is_set()
    finally:
        release.set()
        first.join(5.0)
    assert source.get().value == "new"
