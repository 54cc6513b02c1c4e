"""The topic subscription API: create, get, list, patch, delete, paths, auth and errors."""

from __future__ import annotations

import datetime
import json
import re
from http.client import HTTPConnection
from typing import Any

import pytest
import requests

from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import (
    BAD_REQUEST,
    ERROR_INFO,
    TIMEOUT,
    detail,
    fetch_token,
    make_assertion,
    subscribe_http,
    topic_request,
    topics_url,
)

TOKEN = "fGx2Yx3:APA91bH-k_z"  # registration tokens contain ':', '-' and '_'
CREATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _error(response: requests.Response) -> dict[str, Any]:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    return dict(error)


def _assert_invalid(response: requests.Response, explanation: str) -> None:
    assert response.status_code == 400
    error = _error(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert explanation in error["message"]


def _get(http: requests.Session, emu: FCMEmulator, token: str, topic: str) -> requests.Response:
    return topic_request(http, token, "GET", topics_url(emu, TOKEN, topic))


class TestCreate:
    def test_answers_the_subscription_in_lower_camel_case(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        before = datetime.datetime.now(datetime.timezone.utc)
        response = subscribe_http(http, emu, access_token, TOKEN, "news")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
        body = response.json()
        assert set(body) == {"name", "topicName", "createTime"}
        assert body["name"] == f"projects/demo/registrations/{TOKEN}/topicSubscriptions/news"
        assert body["topicName"] == "news"
        assert CREATE_TIME.fullmatch(body["createTime"])
        created = datetime.datetime.fromisoformat(body["createTime"].replace("Z", "+00:00"))
        assert (
            before - datetime.timedelta(seconds=1) <= created <= datetime.datetime.now(datetime.timezone.utc)
        )
        assert emu.subscriptions(TOKEN) == ["news"]
        assert emu.subscribers("news") == [TOKEN]

    def test_an_existing_subscription_is_409_already_exists(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        first = subscribe_http(http, emu, access_token, TOKEN, "news").json()
        response = subscribe_http(http, emu, access_token, TOKEN, "news")
        assert response.status_code == 409
        error = _error(response)
        assert error["status"] == "ALREADY_EXISTS"
        assert first["name"] in error["message"]
        assert "details" not in error
        assert _get(http, emu, access_token, "news").json() == first  # untouched

    def test_snake_case_query_parameter_is_accepted(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        url = topics_url(emu, TOKEN)
        response = topic_request(http, access_token, "POST", url, params={"topic_name": "news"})
        assert response.status_code == 200
        assert emu.subscriptions(TOKEN) == ["news"]

    def test_the_longest_and_most_unusual_names_are_valid(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        for topic in ("x" * 900, "a-Z_0.9~%25%"):
            assert subscribe_http(http, emu, access_token, TOKEN, topic).status_code == 200
        assert emu.subscriptions(TOKEN) == ["a-Z_0.9~%25%", "x" * 900]

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"{}",
            b'{"topicName": "ignored", "create_time": "2020-01-01T00:00:00Z"}',
            b'{"name": "projects/x/registrations/y/topicSubscriptions/z"}',
        ],
    )
    def test_an_empty_body_or_a_topic_subscription_is_accepted(
        self, emu: FCMEmulator, http: requests.Session, access_token: str, body: bytes
    ) -> None:
        url = topics_url(emu, TOKEN)
        response = topic_request(http, access_token, "POST", url, params={"topicName": "news"}, body=body)
        assert response.status_code == 200
        assert response.json()["topicName"] == "news"  # output-only fields are ignored

    @pytest.mark.parametrize(
        ("body", "explanation"),
        [
            (b"{not json", "Invalid JSON payload received."),
            (b"[1]", "Expected a TopicSubscription object"),
            (b'{"topic": "news"}', 'Unknown name "topic"'),
        ],
    )
    def test_other_bodies_are_400(
        self, emu: FCMEmulator, http: requests.Session, access_token: str, body: bytes, explanation: str
    ) -> None:
        url = topics_url(emu, TOKEN)
        response = topic_request(http, access_token, "POST", url, params={"topicName": "news"}, body=body)
        _assert_invalid(response, explanation)
        assert emu.subscriptions(TOKEN) == []


@pytest.mark.parametrize(
    ("method", "params", "field", "explanation"),
    [
        ("POST", {}, "topic_name", 'The required parameter "topic_name" is missing.'),
        ("POST", {"topicName": ""}, "topic_name", "is missing"),
        ("POST", {"topicName": "bad topic"}, "topic_name", "use only [a-zA-Z0-9-_.~%]"),
        ("POST", {"topicName": "news!"}, "topic_name", "use only [a-zA-Z0-9-_.~%]"),
        ("POST", {"topicName": "/topics/news"}, "topic_name", 'leave out the "/topics/" prefix'),
        ("POST", {"topicName": "x" * 901}, "topic_name", "901 characters, the maximum is 900"),
        ("POST", {"topic_name": "a", "topicName": "b"}, "topic_name", "given twice"),
        ("GET", {"pageSize": "-1"}, "page_size", "page_size must not be negative"),
        ("GET", {"pageSize": "ten"}, "page_size", "Invalid value at 'page_size' (TYPE_INT32)"),
        ("GET", {"pageSize": "99999999999"}, "page_size", "(TYPE_INT32)"),
        ("GET", {"pageSize": "1", "page_size": "2"}, "page_size", "given twice"),
        ("GET", {"pageToken": "not-a-token!"}, "page_token", "Invalid page token."),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(
    emu: FCMEmulator,
    http: requests.Session,
    access_token: str,
    method: str,
    params: dict[str, str],
    field: str,
    explanation: str,
) -> None:
    emu.subscribe(TOKEN, "a", "b")
    response = topic_request(http, access_token, method, topics_url(emu, TOKEN), params=params)
    _assert_invalid(response, explanation)
    violation = detail(response.json(), BAD_REQUEST)
    assert violation is not None
    assert violation["fieldViolations"][0]["field"] == field
    assert emu.subscriptions(TOKEN) == ["a", "b"]


class TestGetPatchDelete:
    def test_get_answers_the_subscription_or_a_bare_404(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        created = subscribe_http(http, emu, access_token, TOKEN, "news").json()
        assert _get(http, emu, access_token, "news").json() == created
        missing = _get(http, emu, access_token, "sport")
        assert missing.status_code == 404
        error = _error(missing)
        assert error["status"] == "NOT_FOUND"
        assert f"registrations/{TOKEN}/topicSubscriptions/sport" in error["message"]
        assert "details" not in error  # no FcmError UNREGISTERED: the token is not dead

    def test_delete_answers_empty_then_404_unless_allow_missing(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.subscribe(TOKEN, "news", "sport")
        url = topics_url(emu, TOKEN, "news")
        response = topic_request(http, access_token, "DELETE", url)
        assert (response.status_code, response.json()) == (200, {})
        assert emu.subscriptions(TOKEN) == ["sport"]
        again = topic_request(http, access_token, "DELETE", url)
        assert again.status_code == 404
        assert "details" not in _error(again)
        for name in ("allowMissing", "allow_missing"):
            allowed = topic_request(http, access_token, "DELETE", url, params={name: "true"})
            assert (allowed.status_code, allowed.json()) == (200, {})
        assert emu.subscriptions(TOKEN) == ["sport"]

    def test_a_bad_allow_missing_is_400(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        url = topics_url(emu, TOKEN, "news")
        response = topic_request(http, access_token, "DELETE", url, params={"allowMissing": "yes"})
        assert response.status_code == 400
        assert "Invalid value at 'allow_missing' (TYPE_BOOL)" in _error(response)["message"]

    def test_patch_returns_or_creates_with_allow_missing(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        url = topics_url(emu, TOKEN, "news")
        assert topic_request(http, access_token, "PATCH", url).status_code == 404
        assert emu.subscriptions(TOKEN) == []
        created = topic_request(http, access_token, "PATCH", url, params={"allowMissing": "true"})
        assert created.status_code == 200
        assert emu.subscriptions(TOKEN) == ["news"]
        again = topic_request(http, access_token, "PATCH", url, params={"allowMissing": "true"})
        assert again.json() == created.json()  # same createTime: nothing was recreated
        assert topic_request(http, access_token, "PATCH", url).json() == created.json()

    @pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
    def test_an_invalid_topic_in_the_path_is_400(
        self, emu: FCMEmulator, http: requests.Session, access_token: str, method: str
    ) -> None:
        response = topic_request(http, access_token, method, topics_url(emu, TOKEN, "bad topic"))
        assert response.status_code == 400
        assert "Invalid topic name" in _error(response)["message"]


class TestList:
    def _list(self, http: requests.Session, emu: FCMEmulator, token: str, **params: str) -> requests.Response:
        return topic_request(http, token, "GET", topics_url(emu, TOKEN), params=params)

    def test_no_subscriptions_is_an_empty_object(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        response = self._list(http, emu, access_token)
        assert (response.status_code, response.json()) == (200, {})

    def test_pages_in_topic_order_until_no_next_page_token(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        for topic in ("e", "c", "a", "d", "b"):
            assert subscribe_http(http, emu, access_token, TOKEN, topic).status_code == 200
        pages: list[list[str]] = []
        params = {"pageSize": "2"}
        while True:
            body = self._list(http, emu, access_token, **params).json()
            pages.append([item["topicName"] for item in body["topicSubscriptions"]])
            assert all(
                set(item) == {"name", "topicName", "createTime"} for item in body["topicSubscriptions"]
            )
            if "nextPageToken" not in body:
                break
            params = {"pageSize": "2", "pageToken": body["nextPageToken"]}
        assert pages == [["a", "b"], ["c", "d"], ["e"]]

    def test_a_page_token_survives_changes_between_pages(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.subscribe(TOKEN, "a", "b", "c", "d")
        first = self._list(http, emu, access_token, pageSize="2").json()
        topic_request(http, access_token, "DELETE", topics_url(emu, TOKEN, "b"))  # already listed
        emu.subscribe(TOKEN, "bb")  # sorts after the token: still to come
        rest = self._list(http, emu, access_token, page_size="9", page_token=first["nextPageToken"]).json()
        assert [item["topicName"] for item in rest["topicSubscriptions"]] == ["bb", "c", "d"]
        assert "nextPageToken" not in rest

    def test_default_page_is_1000_and_larger_sizes_are_coerced_to_2000(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.subscribe(TOKEN, *(f"t{i:04}" for i in range(2000)))
        for params, size, more in (
            ({}, 1000, True),
            ({"pageSize": "0"}, 1000, True),
            ({"pageSize": "5000"}, 2000, False),
        ):
            body = self._list(http, emu, access_token, **params).json()
            assert len(body["topicSubscriptions"]) == size
            assert ("nextPageToken" in body) is more

    def test_a_page_token_is_bound_to_its_registration(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.subscribe(TOKEN, "a", "b")
        emu.subscribe("other", "a", "b")
        page_token = self._list(http, emu, access_token, pageSize="1").json()["nextPageToken"]
        url = topics_url(emu, "other")
        response = topic_request(http, access_token, "GET", url, params={"pageToken": page_token})
        assert response.status_code == 400


class TestPaths:
    @pytest.mark.parametrize(
        "path_token",
        ["fGx2Yx3:APA91bH-k_z", "fGx2Yx3%3AAPA91bH-k_z", "fGx2Yx3%3aAPA91bH%2Dk%5Fz"],
        ids=["raw-colon", "encoded-colon", "everything-encoded"],
    )
    def test_percent_encoded_and_raw_segments_name_the_same_registration(
        self, emu: FCMEmulator, access_token: str, path_token: str
    ) -> None:
        # http.client sends the target byte for byte (requests would decode %2D and %5F).
        conn = HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)
        try:
            target = f"/v1/projects/demo/registrations/{path_token}/topicSubscriptions?topicName=news"
            conn.request("POST", target, b"{}", {"Authorization": f"Bearer {access_token}"})
            response = conn.getresponse()
            body = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 200
        assert body["name"] == f"projects/demo/registrations/{TOKEN}/topicSubscriptions/news"
        assert emu.subscriptions(TOKEN) == ["news"]
        assert emu.requests[-1].targets == (TOKEN,)

    def test_an_encoded_slash_stays_inside_its_segment(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        assert subscribe_http(http, emu, access_token, "odd/token", "news").status_code == 200
        assert emu.subscriptions("odd/token") == ["news"]

    def test_percent_in_a_topic_name_is_encoded_in_path_and_query(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        assert subscribe_http(http, emu, access_token, TOKEN, "50%off").status_code == 200
        assert emu.requests[-1].query == "topicName=50%25off"
        response = _get(http, emu, access_token, "50%off")
        assert response.json()["topicName"] == "50%off"
        assert response.url.endswith("/topicSubscriptions/50%25off")

    @pytest.mark.parametrize(
        ("method", "suffix", "allowed"),
        [("PUT", "", "GET, POST"), ("DELETE", "", "GET, POST"), ("POST", "/news", "DELETE, GET, PATCH")],
    )
    def test_other_methods_are_405(
        self,
        emu: FCMEmulator,
        http: requests.Session,
        access_token: str,
        method: str,
        suffix: str,
        allowed: str,
    ) -> None:
        response = topic_request(http, access_token, method, topics_url(emu, TOKEN) + suffix)
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
        assert emu.subscriptions(TOKEN) == []

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/projects/demo/registrations//topicSubscriptions",
            "/v1/projects/demo/registrations/tok/topicSubscriptions/",
            "/v1/projects/demo/registrations/tok/topicSubscriptions/news/extra",
            "/v1/projects/demo/registrations/tok/subscriptions",
        ],
    )
    def test_near_misses_are_404(self, emu: FCMEmulator, http: requests.Session, path: str) -> None:
        assert http.get(emu.url + path, timeout=TIMEOUT).status_code == 404

    def test_requests_are_recorded_with_the_token_redacted(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        subscribe_http(http, emu, access_token, TOKEN, "news")
        topic_request(http, access_token, "GET", topics_url(emu, TOKEN))
        created, listed = emu.requests
        assert created.protocol == "topics"
        assert (created.method, created.path) == (
            "POST",
            f"/v1/projects/demo/registrations/{TOKEN}/topicSubscriptions",
        )
        assert (created.query, created.body, created.targets) == ("topicName=news", {}, (TOKEN,))
        assert created.headers["authorization"] == "Bearer <redacted>"
        assert access_token not in repr(created)
        assert (listed.method, listed.body) == ("GET", None)
        stats = emu.stats
        assert (stats.topic_requests, stats.v1_requests) == (2, 0)


class TestAuth:
    def test_missing_credentials_is_401(self, emu: FCMEmulator, http: requests.Session) -> None:
        response = topic_request(http, None, "POST", topics_url(emu, TOKEN), params={"topicName": "news"})
        assert response.status_code == 401
        error = _error(response)
        assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="FCM"'
        assert emu.subscriptions(TOKEN) == []

    def test_an_expired_token_is_401_as_for_a_send(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.expire_access_tokens()
        response = subscribe_http(http, emu, access_token, TOKEN, "news")
        assert response.status_code == 401
        assert _error(response)["details"] == [
            {
                "@type": ERROR_INFO,
                "reason": "ACCESS_TOKEN_EXPIRED",
                "domain": "googleapis.com",
                "metadata": {"service": "fcm.googleapis.com"},
            }
        ]
        assert emu.subscriptions(TOKEN) == []

    @pytest.mark.parametrize(
        ("method", "suffix", "params", "permission"),
        [
            ("POST", "", {"topicName": "news"}, "create"),
            ("GET", "", {}, "list"),
            ("GET", "/news", {}, "get"),
            ("PATCH", "/news", {}, "update"),
            ("DELETE", "/news", {}, "delete"),
        ],
    )
    def test_another_projects_token_is_403_naming_the_permission(
        self,
        emu: FCMEmulator,
        http: requests.Session,
        access_token: str,
        method: str,
        suffix: str,
        params: dict[str, str],
        permission: str,
    ) -> None:
        url = topics_url(emu, TOKEN, project_id="other") + suffix
        response = topic_request(http, access_token, method, url, params=params)
        assert response.status_code == 403
        error = _error(response)
        assert error["message"] == (
            f"Permission 'cloudmessaging.topicSubscriptions.{permission}' denied on resource "
            "'//cloudresourcemanager.googleapis.com/projects/other' (or it may not exist)."
        )
        assert emu.subscriptions(TOKEN, "other") == []


def test_subscriptions_are_kept_per_project(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    other_token = fetch_token(emu, make_assertion(emu.service_account_info("other"))).json()["access_token"]
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 200
    assert subscribe_http(http, emu, other_token, TOKEN, "sport", project_id="other").status_code == 200
    assert emu.subscriptions(TOKEN) == ["news"]
    assert emu.subscriptions(TOKEN, project_id="other") == ["sport"]
    assert emu.subscribers("news", project_id="other") == []
    listed = topic_request(http, other_token, "GET", topics_url(emu, TOKEN, project_id="other")).json()
    assert [item["name"] for item in listed["topicSubscriptions"]] == [
        f"projects/other/registrations/{TOKEN}/topicSubscriptions/sport"
    ]


class TestTopicLimit:
    def test_the_2001st_topic_is_400_failed_precondition(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        topics = [f"t{i}" for i in range(2000)]
        emu.subscribe(TOKEN, *topics)
        response = subscribe_http(http, emu, access_token, TOKEN, "one-more")
        assert response.status_code == 400
        error = _error(response)
        assert error["status"] == "FAILED_PRECONDITION"
        assert "2000 topics" in error["message"]
        assert detail(response.json(), ERROR_INFO) == {
            "@type": ERROR_INFO,
            "reason": "TOO_MANY_TOPICS",
            "domain": "fcm.googleapis.com",
            "metadata": {"limit": "2000"},
        }
        patch = topic_request(
            http, access_token, "PATCH", topics_url(emu, TOKEN, "one-more"), params={"allowMissing": "true"}
        )
        assert patch.status_code == 400
        assert subscribe_http(http, emu, access_token, TOKEN, "t7").status_code == 409  # exists first
        assert topic_request(http, access_token, "DELETE", topics_url(emu, TOKEN, "t7")).status_code == 200
        assert subscribe_http(http, emu, access_token, TOKEN, "one-more").status_code == 200
        assert len(emu.subscriptions(TOKEN)) == 2000

    def test_subscribe_helper_refuses_to_pass_the_limit_and_adds_nothing(self, emu: FCMEmulator) -> None:
        emu.subscribe(TOKEN, *(f"t{i}" for i in range(1999)))
        with pytest.raises(ValueError, match="at most 2000 topics"):
            emu.subscribe(TOKEN, "x", "y")
        assert len(emu.subscriptions(TOKEN)) == 1999
        emu.subscribe(TOKEN, "t0", "x")  # t0 is already there: one new topic fits
        assert len(emu.subscriptions(TOKEN)) == 2000
