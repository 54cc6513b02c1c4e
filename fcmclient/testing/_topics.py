"""The FCM topic subscription API: create, get, list, patch and delete ``topicSubscriptions``.

Facts, from Firebase's reference (firebase.google.com/docs/reference/fcm/fcmtopics/rest/v1,
``projects.registrations.topicSubscriptions``) and Google's discovery document for
``fcm/v1`` (as generated into googleapis/google-api-ruby-client, google-apis-fcm_v1):

- ``{parent}`` is ``projects/{project}/registrations/{registration}``, the registration an
  FCM token or a Firebase installation ID; ``{name}`` is ``{parent}/topicSubscriptions/{topic}``.
- create: ``POST /v1/{parent}/topicSubscriptions?topicName=T``, the body a TopicSubscription
  (``{}``); answers the new TopicSubscription, or ``ALREADY_EXISTS`` (409) if it exists.
- get: ``GET /v1/{name}``. delete: ``DELETE /v1/{name}``, answering Empty (``{}``);
  ``allowMissing=true`` makes a missing subscription a success with nothing done.
- patch: ``PATCH /v1/{name}``; with ``allowMissing=true`` it creates a missing subscription,
  else it returns the existing one.
- list: ``GET /v1/{parent}/topicSubscriptions?pageSize=N&pageToken=T``: at most 1,000 by
  default, 2,000 at most (larger values are coerced); no ``nextPageToken`` on the last page.
- TopicSubscription is ``{name, topicName, createTime}``, the topic matching
  ``[a-zA-Z0-9-_.~%]{1,900}``, ``createTime`` RFC 3339 in UTC. IAM permissions are
  ``cloudmessaging.topicSubscriptions.*`` (``.delete`` is documented; the others follow).
- JSON names: the reference pages print snake_case (``topic_name``, ``next_page_token``);
  the discovery document, which Google's generated clients read, has lowerCamelCase
  (``topicName``, ``nextPageToken``), proto3's JSON names that Google's front end emits. So
  the emulator answers in lowerCamelCase and accepts both spellings in requests, as Google
  does, for query parameters and body fields alike.

The emulator's choices where the docs say nothing: a registration whose scripted outcome is
``unregistered`` (or that :meth:`FCMEmulator.unregister` killed) answers 404 ``NOT_FOUND``
with an FcmError ``UNREGISTERED`` detail, as a send does, while a missing subscription is a
404 without details; a 2,001st subscription is 400 ``FAILED_PRECONDITION`` with an ErrorInfo
reason ``TOO_MANY_TOPICS`` (the Instance ID API's name for it), not retryable; a list is in
topic-name order and an empty one is ``{}``, as proto3 JSON leaves out empty lists.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from ._answers import pause, unwrap
from ._http import Request, Response
from ._oauth import AuthRegistry
from ._pages import html_page
from ._records import record_of
from ._state import EmulatorState
from ._subscriptions import MAX_TOPICS_PER_REGISTRATION, AddStatus, Subscription, SubscriptionStore
from ._v1 import auth_failure, error_outcome_response, error_response, invalid_response
from ._validate import FieldError, V1Invalid, camel_case, snake_case, topic_problem

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_TOPIC_LENGTH",
    "TopicRoute",
    "TopicsEndpoint",
    "match_route",
    "subscription_topic_problem",
]

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 2000
MAX_TOPIC_LENGTH = 900
_JSON = "application/json; charset=UTF-8"
_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
_BODY_FIELDS = frozenset({"name", "topic_name", "create_time"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

Operation = Literal["create", "get", "list", "patch", "delete"]
#: (method, whether the path names a topic) -> operation
_OPERATIONS: dict[tuple[str, bool], Operation] = {
    ("POST", False): "create",
    ("GET", False): "list",
    ("GET", True): "get",
    ("PATCH", True): "patch",
    ("DELETE", True): "delete",
}
_PERMISSIONS = {"create": "create", "get": "get", "list": "list", "patch": "update", "delete": "delete"}


@dataclass(frozen=True)
class TopicRoute:
    """A topic subscription path, its segments percent-decoded.

    Example::

        match_route("/v1/projects/demo/registrations/a%3Ab/topicSubscriptions/news")
        # TopicRoute(project="demo", registration="a:b", topic="news")

    :param project: the project id or number.
    :param registration: the registration token or FID.
    :param topic: the topic name, or ``None`` for the collection.
    """

    project: str
    registration: str
    topic: str | None


def match_route(target: str) -> TopicRoute | None:
    """Match a request target against the topic subscription paths, or return ``None``.

    Each segment is split off before it is percent-decoded, so an encoded ``/`` stays inside
    its segment.

    :param target: the request target as sent (path and query).
    """
    segments = target.partition("?")[0].split("/")
    if len(segments) not in (7, 8) or not all(segments[3:]):
        return None
    if segments[:3] != ["", "v1", "projects"] or segments[4] != "registrations":
        return None
    if segments[6] != "topicSubscriptions":
        return None
    topic = unquote(segments[7]) if len(segments) == 8 else None
    return TopicRoute(unquote(segments[3]), unquote(segments[5]), topic)


def _param(params: dict[str, str], name: str) -> str | None:
    """A query parameter by its snake_case or lowerCamelCase name."""
    given = [spelling for spelling in dict.fromkeys((name, camel_case(name))) if spelling in params]
    if len(given) > 1:
        raise FieldError(name, f'Query parameter "{name}" is given twice (as {" and ".join(given)}).')
    return params[given[0]] if given else None


def _bool_param(params: dict[str, str], name: str) -> bool:
    text = _param(params, name)
    if text is None:
        return False
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise FieldError(name, f"Invalid value at '{name}' (TYPE_BOOL), {json.dumps(text)}")
    return value


def subscription_topic_problem(name: str) -> str | None:
    """Explain why ``name`` is not a topic one can subscribe to, or return ``None``.

    :param name: the topic name, which must match ``[a-zA-Z0-9-_.~%]{1,900}``.
    """
    problem = topic_problem(name)
    if problem is None and len(name) > MAX_TOPIC_LENGTH:
        problem = f"Invalid topic name: {len(name)} characters, the maximum is {MAX_TOPIC_LENGTH}"
    return problem


def _topic_name(name: str | None, field: str) -> str:
    if name is None or name == "":
        raise FieldError(field, f'The required parameter "{field}" is missing.')
    problem = subscription_topic_problem(name)
    if problem is not None:
        raise FieldError(field, problem)
    return name


def _check_body(body: bytes) -> None:
    """A create or patch body must be empty or a TopicSubscription (its fields are ignored)."""
    if not body.strip():
        return
    try:
        value = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FieldError("", f"Invalid JSON payload received. {exc}") from exc
    if not isinstance(value, dict):
        raise FieldError("", "Invalid JSON payload received. Expected a TopicSubscription object.")
    for key in value:
        if key not in _BODY_FIELDS and snake_case(key) not in _BODY_FIELDS:
            raise FieldError(key, f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')


def _encode_page_token(route: TopicRoute, last_topic: str) -> str:
    text = json.dumps([route.project, route.registration, last_topic])
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _decode_page_token(route: TopicRoute, token: str) -> str:
    """The last topic of the previous page; the token must come from this same list."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise FieldError("page_token", "Invalid page token.") from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or decoded[:2] != [route.project, route.registration]
        or not isinstance(decoded[2], str)
    ):
        raise FieldError("page_token", "Invalid page token.")
    return decoded[2]


def _page_size(params: dict[str, str]) -> int:
    text = _param(params, "page_size")
    if not text:
        return DEFAULT_PAGE_SIZE
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or int(digits) >= 2**31:
        raise FieldError("page_size", f"Invalid value at 'page_size' (TYPE_INT32), {json.dumps(text)}")
    size = int(text)
    if size < 0:
        raise FieldError("page_size", f"page_size must not be negative, got {size}.")
    return DEFAULT_PAGE_SIZE if size == 0 else min(size, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class _Call:
    """A validated topic subscription request."""

    operation: Operation
    route: TopicRoute
    topic: str = ""
    allow_missing: bool = False
    after: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE


def _parse(operation: Operation, route: TopicRoute, request: Request) -> _Call:
    """Validate a request's topic, query and body.

    :raises FieldError: with the field and FCM-style message.
    """
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    if operation == "list":
        token = _param(params, "page_token")
        after = _decode_page_token(route, token) if token else None
        return _Call(operation, route, after=after, page_size=_page_size(params))
    if operation == "create":
        _check_body(request.body)
        return _Call(operation, route, topic=_topic_name(_param(params, "topic_name"), "topic_name"))
    if operation == "patch":
        _check_body(request.body)
    topic = _topic_name(route.topic, "name")
    allow_missing = operation != "get" and _bool_param(params, "allow_missing")
    return _Call(operation, route, topic=topic, allow_missing=allow_missing)


def _recorded_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return body.decode("utf-8", "replace")


def _json(value: Any) -> Response:
    return Response(200, json.dumps(value, indent=2).encode(), _JSON)


def _resource(subscription: Subscription) -> dict[str, str]:
    return {
        "name": subscription.name,
        "topicName": subscription.topic,
        "createTime": subscription.create_time,
    }


def _not_found(route: TopicRoute, topic: str) -> Response:
    name = Subscription(route.project, route.registration, topic, "").name
    return error_response(404, f"Topic subscription {name} was not found.", [])


def _added(status: AddStatus, subscription: Subscription | None, *, exists_ok: bool) -> Response:
    """The answer to adding a subscription: it, a 409 if it existed, or the 2,001st's error."""
    if subscription is None:
        info = {
            "@type": _ERROR_INFO_TYPE,
            "reason": "TOO_MANY_TOPICS",
            "domain": "fcm.googleapis.com",
            "metadata": {"limit": str(MAX_TOPICS_PER_REGISTRATION)},
        }
        message = (
            f"The registration is subscribed to {MAX_TOPICS_PER_REGISTRATION} topics, the most "
            "an app instance may have; unsubscribe it from one first."
        )
        return error_response(400, message, [info], status_name="FAILED_PRECONDITION")
    if status == "exists" and not exists_ok:
        return error_response(409, f"Topic subscription {subscription.name} already exists.", [])
    return _json(_resource(subscription))


def _method_not_allowed(request: Request, route: TopicRoute) -> Response:
    allowed = "DELETE, GET, PATCH" if route.topic is not None else "GET, POST"
    page = html_page(405, f"The request method {request.method} is not allowed.")
    return Response(405, page, "text/html; charset=UTF-8", (("Allow", allowed),))


class TopicsEndpoint:
    """Answers topic subscription requests, reading and updating the subscription store.

    Scripted outcomes apply per registration: each request consumes the registration's next
    outcome as a send to it would, and only a ``delivered`` (or ``canonical``) outcome
    performs the operation; any other answers as it does for a v1 send.

    Example::

        endpoint = TopicsEndpoint(state, auth, store)
        route = match_route(request.target)
        response = await endpoint.handle(request, route)

    :param state: queues, records and counters.
    :param auth: issued access tokens.
    :param store: the subscriptions.
    """

    def __init__(self, state: EmulatorState, auth: AuthRegistry, store: SubscriptionStore) -> None:
        self._state = state
        self._auth = auth
        self._store = store

    async def handle(self, request: Request, route: TopicRoute) -> Response | None:
        """Answer one request to a topic subscription path; ``None`` drops the connection.

        :param request: the request.
        :param route: its matched path.
        """
        operation = _OPERATIONS.get((request.method, route.topic is not None))
        if operation is None:
            return _method_not_allowed(request, route)
        body = _recorded_body(request.body)
        self._state.record(record_of("topics", request, body, (route.registration,)))
        latency = self._state.latency
        check = self._auth.check(request.headers.get("authorization"), route.project)
        if check != "ok":
            await pause(latency)
            permission = f"cloudmessaging.topicSubscriptions.{_PERMISSIONS[operation]}"
            return auth_failure(check, route.project, permission)
        try:
            call = _parse(operation, route, request)
        except FieldError as exc:
            await pause(latency)
            return invalid_response(V1Invalid(exc.field, exc.message, fcm_error=False))
        wait, final = unwrap(self._state.take([route.registration])[0])
        await pause(latency + wait)
        if final.kind == "drop":
            return None
        if final.kind not in ("delivered", "canonical"):
            return error_outcome_response(final)
        return self._perform(call)

    def _perform(self, call: _Call) -> Response:
        route, store = call.route, self._store
        key = (route.project, route.registration, call.topic)
        if call.operation == "list":
            return self._list(call)
        if call.operation == "create":
            return _added(*store.add(*key), exists_ok=False)
        if call.operation == "delete":
            if store.remove(*key) or call.allow_missing:
                return _json({})
            return _not_found(route, call.topic)
        existing = store.get(*key)
        if existing is not None:
            return _json(_resource(existing))
        if call.operation == "get" or not call.allow_missing:
            return _not_found(route, call.topic)
        return _added(*store.add(*key), exists_ok=True)  # patch with allowMissing=true

    def _list(self, call: _Call) -> Response:
        route = call.route
        page, more = self._store.page(route.project, route.registration, call.after, call.page_size)
        body: dict[str, Any] = {}
        if page:
            body["topicSubscriptions"] = [_resource(subscription) for subscription in page]
        if more:
            body["nextPageToken"] = _encode_page_token(route, page[-1].topic)
        return _json(body)
