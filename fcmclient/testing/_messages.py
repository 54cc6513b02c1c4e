"""The emulator's HTTP values: requests and responses, and how their heads are read and written."""

from __future__ import annotations

import gzip
import http
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "MAX_HEAD_BYTES",
    "HTTPError",
    "Request",
    "Response",
    "accepts_gzip",
    "compressed",
    "parse_head",
    "reason_phrase",
    "render",
    "wants_keep_alive",
]

MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request.

    Example::

        request = Request("POST", "/token", "/token", "", "HTTP/1.1", {}, b"", 0.0)

    :param method: the method, e.g. ``"POST"``.
    :param target: the request target as sent.
    :param path: the target's path, percent-decoded, without the query.
    :param query: the query string (without ``?``).
    :param version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
    :param headers: header values by lower-case name (repeats joined with ``", "``).
    :param body: the decoded body.
    :param received_at: ``time.monotonic()`` when the request was read.
    """

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    received_at: float


@dataclass(frozen=True)
class Response:
    """An HTTP response; ``Content-Length`` is always added when it is sent.

    Example::

        Response(200, b'{"ok": true}', "application/json", (("Retry-After", "3"),))

    :param status: the status code.
    :param body: the body bytes.
    :param content_type: the ``Content-Type`` header value.
    :param headers: further ``(name, value)`` header pairs.
    """

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=UTF-8"
    headers: tuple[tuple[str, str], ...] = ()


class HTTPError(Exception):
    """The request cannot be read; answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reason_phrase(status: int) -> str:
    """The standard reason phrase for ``status`` (``\"Unknown\"`` if there is none)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Parse a request line and header block (ending with an empty line).

    :param head: the bytes up to and including the blank line.
    :returns: ``(method, target, version, headers)``, header names in lower case.
    :raises HTTPError: when the head is not valid HTTP/1.x.
    """
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise HTTPError(400, "Malformed request line.")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(505, f"Unsupported protocol version {version!r}.")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise HTTPError(400, "Malformed header line.")
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, target, version, headers


def render(response: Response, *, keep_alive: bool, http10: bool, head_only: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {response.status} {reason_phrase(response.status)}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
    ]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    if not keep_alive:
        lines.append("Connection: close")
    elif http10:
        lines.append("Connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows a gzip answer (``gzip`` or ``*``, not q=0).

    >>> [accepts_gzip(v) for v in ("gzip, deflate", "identity", "gzip;q=0", "*", "")]
    [True, False, False, True, False]
    """
    for token in accept_encoding.split(","):
        coding, _, params = token.partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        name, _, weight = params.partition("=")
        if name.strip().lower() != "q":
            return True
        try:
            return float(weight) > 0
        except ValueError:
            return True
    return False


def compressed(response: Response, headers: Mapping[str, str]) -> Response:
    """``response`` gzipped when the request accepts it, as Google's front ends answer."""
    if not response.body or not accepts_gzip(headers.get("accept-encoding", "")):
        return response
    if any(name.lower() == "content-encoding" for name, _ in response.headers):
        return response
    encoded = (("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding"))
    return replace(
        response, body=gzip.compress(response.body, mtime=0), headers=(*response.headers, *encoded)
    )


def wants_keep_alive(version: str, headers: Mapping[str, str]) -> bool:
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens
