"""Routing, and the send and token endpoints: legacy ``/fcm/send``, v1 ``messages:send``, ``/token``.

A delivered topic or condition send lands in the topic's (or condition's) own inbox and in the
inbox of every registration it reaches: v1 in its project, legacy (which names no project) in
any project. Topic subscription paths go to :class:`~._topics.TopicsEndpoint`.
"""

from __future__ import annotations

import hmac
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from . import _legacy, _v1
from ._answers import REQUEST_KINDS, Answer, pause, unwrap
from ._conditions import parse_condition
from ._http import Request, Response
from ._oauth import GOOGLE_AUDIENCE, JWT_BEARER, AuthRegistry, OAuthRejectedError
from ._pages import front_end_error, html_page
from ._records import REDACTED, Protocol, record_of
from ._state import EmulatorState
from ._subscriptions import SubscriptionStore
from ._topics import TopicsEndpoint, match_route
from ._validate import V1Invalid, V1Send, validate_send

__all__ = ["EmulatorApp"]

_V1_PATH = re.compile(r"/v1/projects/([^/]+)/messages:send")
_OAUTH_JSON = "application/json; charset=utf-8"
_DELIVERED_KINDS = ("delivered", "canonical")
_FAKE_MESSAGE_ID = "fake_message_id"


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    body = json.dumps({"error": error, "error_description": description}, indent=2)
    return Response(status, body.encode(), _OAUTH_JSON)


class EmulatorApp:
    """Answers requests for the emulator, reading and updating its shared state.

    Example::

        app = EmulatorApp(state, auth, store, api_key="k", token_lifetime=3600, token_uri=lambda: uri)
        server = HTTPServer(app.handle, host="127.0.0.1", port=0)

    :param state: queues, inboxes, records and counters.
    :param auth: issued service accounts and access tokens.
    :param store: topic subscriptions.
    :param api_key: the legacy server key.
    :param token_lifetime: seconds an access token stays valid.
    :param token_uri: returns this emulator's token URI (an accepted JWT audience).
    """

    def __init__(
        self,
        state: EmulatorState,
        auth: AuthRegistry,
        store: SubscriptionStore,
        *,
        api_key: str,
        token_lifetime: float,
        token_uri: Callable[[], str],
    ) -> None:
        self._state = state
        self._auth = auth
        self._store = store
        self._topics = TopicsEndpoint(state, auth, store)
        self._api_key = api_key.encode()
        self._token_lifetime = token_lifetime
        self._token_uri = token_uri
        self._counter = itertools.count(1)
        self._id_base = time.time_ns() // 1000
        self._id_suffix = secrets.token_hex(8)
        self._multicast_base = secrets.randbelow(2**62) + 2**61

    def _message_id(self) -> str:
        return f"0:{self._id_base + next(self._counter)}%{self._id_suffix}"

    def _record(self, protocol: Protocol, request: Request, body: Any, targets: tuple[str, ...]) -> None:
        self._state.record(record_of(protocol, request, body, targets))

    async def handle(self, request: Request) -> Response | None:
        """Route one request; ``None`` means close the connection without answering.

        :param request: the parsed request.
        """
        self._state.count_request()
        route = match_route(request.target)
        if route is not None:
            return await self._topics.handle(request, route)
        path = request.path
        match = _V1_PATH.fullmatch(path)
        if path != "/fcm/send" and path != "/token" and match is None:
            page = html_page(404, f"The requested URL {path} was not found on this server.")
            return Response(404, page, "text/html; charset=UTF-8")
        if request.method != "POST":
            page = html_page(405, f"The request method {request.method} is not allowed.")
            return Response(405, page, "text/html; charset=UTF-8", (("Allow", "POST"),))
        if match is not None:
            return await self._send_v1(request, match.group(1))
        if path == "/token":
            return await self._token(request)
        return await self._send_legacy(request)

    # Legacy ---------------------------------------------------------------------------------

    def _legacy_authorized(self, request: Request) -> bool:
        value = request.headers.get("authorization", "")
        if value[:4].lower() != "key=":
            return False
        return hmac.compare_digest(value[4:].strip().encode(), self._api_key)

    async def _send_legacy(self, request: Request) -> Response | None:
        content_type = request.headers.get("content-type", "")
        plain_text, decoded = _legacy.decode_body(content_type, request.body)
        send = _legacy.validate(plain_text, decoded)
        targets = send.targets if isinstance(send, _legacy.LegacySend) else ()
        recorded = request.body.decode("utf-8", "replace")
        if not isinstance(decoded, _legacy.LegacyInvalid):
            recorded = decoded
        self._record("legacy", request, recorded, targets)
        latency = self._state.latency
        if not self._legacy_authorized(request):
            await pause(latency)
            return _legacy.unauthorized_response()
        if isinstance(send, _legacy.LegacyInvalid):
            await pause(latency)
            return Response(400, send.message.encode(), "text/plain; charset=UTF-8")
        multicast_id = self._multicast_base + next(self._counter)
        if send.error is not None:
            await pause(latency)
            return _legacy.legacy_response(send, [], [], multicast_id)
        unwrapped = [unwrap(o) for o in self._state.take(send.targets)]
        await pause(latency + max(wait for wait, _ in unwrapped))
        finals = [final for _, final in unwrapped]
        request_level = next((o for o in finals if o.kind in REQUEST_KINDS), None)
        if request_level is not None:
            if request_level.kind == "drop":
                return None
            return _legacy.request_level_response(request_level, send.plain_text)
        ids: list[str | int]
        if send.kind != "tokens":
            ids = [multicast_id]
        elif send.dry_run:
            ids = [_FAKE_MESSAGE_ID] * len(finals)
        else:
            ids = [self._message_id() for _ in finals]
        if not send.dry_run:
            self._state.deliver(self._legacy_deliveries(send, finals))
        return _legacy.legacy_response(send, finals, ids, multicast_id)

    def _legacy_deliveries(
        self, send: _legacy.LegacySend, finals: list[Answer]
    ) -> list[tuple[str, dict[str, Any]]]:
        deliveries = []
        for target, final in zip(send.targets, finals, strict=True):
            if final.kind not in _DELIVERED_KINDS:
                continue
            if send.kind == "topic":
                field, value = "topic", target[len("/topics/") :]
            else:
                field, value = ("condition" if send.kind == "condition" else "token"), target
            message = _legacy.to_v1_message(send.fields, field, value)
            deliveries.extend(self._fan_out(None, target, field, value, message))
        return deliveries

    def _fan_out(
        self, project: str | None, key: str, field: str, value: str, message: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any]]]:
        """``message`` for the target's own inbox and, for a topic or condition, every
        registration it reaches in ``project`` (``None``: in any project)."""
        reached: list[str] = []
        if field == "topic":
            reached = self._store.subscribers(project, value)
        elif field == "condition":
            reached = self._store.matching(project, parse_condition(value).matches)
        return [(key, message), *((registration, message) for registration in reached)]

    # HTTP v1 --------------------------------------------------------------------------------

    async def _send_v1(self, request: Request, project_id: str) -> Response | None:
        check = self._auth.check(request.headers.get("authorization"), project_id)
        parse_error: ValueError | None = None
        try:
            body: Any = json.loads(request.body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            body, parse_error = None, exc
        result = validate_send(body) if parse_error is None else None
        key = ""
        if isinstance(result, V1Send):
            key = f"/topics/{result.target}" if result.target_field == "topic" else result.target
        recorded = request.body.decode("utf-8", "replace") if parse_error else body
        self._record("v1", request, recorded, (key,) if key else ())
        latency = self._state.latency
        if check != "ok":
            await pause(latency)
            return _v1.auth_failure(check, project_id)
        if result is None or isinstance(result, V1Invalid):
            await pause(latency)
            problem = result or V1Invalid("", f"Invalid JSON payload received. {parse_error}")
            return _v1.invalid_response(problem)
        wait, final = unwrap(self._state.take([key])[0])
        await pause(latency + wait)
        if final.kind == "drop":
            return None
        message_id = _FAKE_MESSAGE_ID if result.validate_only else self._message_id()
        if final.kind in _DELIVERED_KINDS and not result.validate_only:
            fan_out = self._fan_out(project_id, key, result.target_field, result.target, result.message)
            self._state.deliver(fan_out)
        return _v1.outcome_response(final, f"projects/{project_id}/messages/{message_id}")

    # OAuth2 token endpoint --------------------------------------------------------------------

    async def _token(self, request: Request) -> Response | None:
        form = dict(reversed(parse_qsl(request.body.decode("utf-8", "replace"), True)))
        recorded = {k: (REDACTED if k == "assertion" else v) for k, v in form.items()}
        self._record("oauth", request, recorded, ())
        scripted = self._state.take_token_outcome()
        if scripted is not None:
            wait, final = unwrap(scripted)
            await pause(wait)
            if final.kind == "drop":
                return None
            if final.kind == "malformed":
                return Response(200, b'{\n  "access_token": "emu.', _OAUTH_JSON)
            if final.kind == "http_error":
                return front_end_error(final.status or 502, final.retry_after)
            if final.kind == "oauth_error":
                status = final.status or 400
                return _oauth_error(final.error or "", final.description or "", status)
        return self._grant(form)

    def _grant(self, form: dict[str, str]) -> Response:
        grant_type = form.get("grant_type", "")
        if grant_type != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = form.get("assertion")
        if not assertion:
            return _oauth_error("invalid_request", "Missing required parameter: assertion")
        audiences = frozenset({GOOGLE_AUDIENCE, self._token_uri()})
        try:
            account = self._auth.verify(assertion, audiences)
        except OAuthRejectedError as exc:
            return _oauth_error(exc.error, exc.description, exc.status)
        token = self._auth.issue(account.project_id, self._token_lifetime)
        body = {
            "access_token": token,
            # A second under the real lifetime, as Google does, but never 0: clients take
            # 0 (or a missing value) to mean "one hour".
            "expires_in": max(1, math.floor(self._token_lifetime - 1)),
            "token_type": "Bearer",
        }
        return Response(200, json.dumps(body, indent=2).encode(), _OAUTH_JSON)
