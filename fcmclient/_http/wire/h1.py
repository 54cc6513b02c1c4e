"""HTTP/1.1, client side of one keep-alive connection, sans-IO (RFC 9112).

Requests: :func:`request_head` validates and encodes a head once; :func:`request` adds
``Content-Length`` and a body to it, so a fan-out pays for validation once per send::

    >>> head = request_head("POST", "/v1/send", "fcm.example", [("Content-Type", "application/json")])
    >>> request(head, b"{}").split(b"\\r\\n")[-3:]
    [b'Content-Length: 2', b'', b'{}']

Responses: a :class:`ResponseParser` per connection turns received bytes into
:class:`Response` values::

    >>> parser = ResponseParser()
    >>> parser.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")[0].body
    b'ok'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .errors import InvalidHeaderError, ProtocolError
from .fields import FieldLookup, Fields, check_token, encode_field, has_token
from .h1head import MAX_HEADERS, MAX_LINE, content_length, framing_fields, header_lines, parse_head

__all__ = ["MAX_BODY", "MAX_HEADERS", "MAX_LINE", "Response", "ResponseParser", "request", "request_head"]

#: Default cap on a kept response body (bytes); what passes it is discarded.
MAX_BODY = 4 * 1024 * 1024

_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})
_BAD_TARGET = re.compile(r"[^\x21-\x7e]")


def request_head(method: str, target: str, host: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request line, ``Host`` and ``headers`` as bytes, without the blank line ending a head.

    Validated like :mod:`http.client`, stricter: ``method`` and header names are tokens, values
    hold no CR, LF or NUL, ``target`` and ``host`` are visible ASCII. ``Host``,
    ``Content-Length`` and ``Transfer-Encoding`` are the codec's own and refused in ``headers``.
    Raises :class:`~.errors.InvalidHeaderError` naming the culprit and never showing a value.
    """
    check_token("method", method)
    if not target or _BAD_TARGET.search(target):
        raise InvalidHeaderError(
            "the request target is empty or holds a space, control or non-ASCII character"
        )
    if not host or _BAD_TARGET.search(host):
        raise InvalidHeaderError("the Host is empty or holds a space, control or non-ASCII character")
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")]
    for name, value in headers:
        if name.lower() in _FRAMING:
            raise InvalidHeaderError(f"the header {name[:64]!r} is set by the codec, not by the caller")
        raw_name, raw_value = encode_field(name, value)
        lines.append(b"%s: %s\r\n" % (raw_name, raw_value))
    return b"".join(lines)


def request(head: bytes, body: bytes | None = None) -> bytes:
    """A whole request: ``head`` from :func:`request_head`, ``Content-Length`` and ``body``.

    ``body=None`` sends no ``Content-Length`` (a request without content, such as ``GET``).
    """
    if body is None:
        return head + b"\r\n"
    return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)


@dataclass(frozen=True, slots=True)
class Response(FieldLookup):
    """One final response; ``get(name)`` looks a header up in any case.

    ``keep_alive`` is False when the connection cannot carry another request (HTTP/1.0
    without keep-alive, ``Connection: close``, a close-delimited, cut or capped body).
    ``truncated``: the body holds only its first ``max_body`` bytes, or the connection was
    cut before the body ended.
    """

    status: int
    reason: str
    headers: Fields
    body: bytes
    keep_alive: bool
    truncated: bool = False
    trailers: Fields = ()


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?")

# Parser states.
_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DISCARD, _CLOSED = range(
    9
)


class ResponseParser:
    """Incremental parser of the responses arriving on one HTTP/1.1 connection.

    :meth:`feed` takes whatever bytes arrived and returns the final responses they complete
    (1xx interim responses are skipped). Garbage raises :class:`~.errors.ProtocolError`; if
    responses completed before the garbage in the same call, they are returned (the last one
    with ``keep_alive=False``) and the next call raises. After a capped body the rest of the
    connection is discarded unread. :meth:`eof` tells the parser the peer closed.
    """

    __slots__ = (
        "_body",
        "_buf",
        "_error",
        "_head",
        "_head_only",
        "_line_start",
        "_lines",
        "_max_body",
        "_remaining",
        "_scan",
        "_state",
        "_trailers",
    )

    def __init__(self, max_body: int = MAX_BODY) -> None:
        """``max_body``: the most body bytes kept per response (default 4 MiB)."""
        self._buf = bytearray()
        self._state = _HEAD
        self._max_body = max_body
        self._head_only = False
        self._error: ProtocolError | None = None
        # (status, reason, headers, keep_alive) of the response whose body is being read.
        self._head: tuple[int, str, Fields, bool] = (0, "", (), False)
        self._body = bytearray()
        self._remaining = 0
        self._trailers: list[tuple[str, str]] = []
        self._scan = self._line_start = self._lines = 0

    @property
    def at_rest(self) -> bool:
        """Whether the parser holds nothing: no byte of a next answer, no error (between
        answers, a connection that is at rest can carry the next request)."""
        return self._state == _HEAD and not self._buf and self._error is None

    def head_sent(self) -> None:
        """Say the next final response answers a ``HEAD`` request: it has no body."""
        self._head_only = True

    def feed(self, data: bytes) -> list[Response]:
        """The final responses completed by ``data`` (often none, usually one)."""
        if self._error is not None:
            raise self._error
        if self._state == _DISCARD:
            return []
        self._buf += data
        out: list[Response] = []
        try:
            while _STEPS[self._state](self, out):
                pass
        except ProtocolError as exc:
            self._state, self._error = _CLOSED, exc
            self._buf.clear()
            if not out:
                raise
            out[-1] = replace(out[-1], keep_alive=False)
        return out

    def eof(self) -> Response | None:
        """The peer closed: the close-delimited or cut response under way, if any.

        Returns None when no status line and headers had fully arrived. A response whose
        body was cut (Content-Length or chunked) comes back with ``truncated=True``.
        """
        state = self._state
        self._state = _CLOSED
        if self._error is None:
            self._error = ProtocolError("the connection was closed")
        if state in (_HEAD, _DISCARD, _CLOSED):
            return None
        return self._response(truncated=state != _UNTIL_CLOSE, keep_alive=False)

    # -- states: each returns True when it made progress and the loop should go on --

    def _read_head(self, out: list[Response]) -> bool:
        buf = self._buf
        if not buf:
            return False
        start = max(self._scan - 3, 0)
        end = buf.find(b"\r\n\r\n", start)
        limit = end if end >= 0 else len(buf)
        if buf.find(b"\n\n", start, limit) >= 0 or buf.find(b"\n\r\n", start, limit) >= 0:
            match = _HEAD_END.search(buf, start)  # a head ended by bare LFs (tolerated)
            assert match is not None
            end, after = match.span()
        elif end >= 0:
            after = end + 4
        else:
            self._check_partial_head()
            return False
        head = bytes(buf[:end])
        del buf[:after]
        self._scan = self._line_start = self._lines = 0
        self._start_response(head, out)
        return True

    def _check_partial_head(self) -> None:
        """Fail early on what can never become a valid head: wrong start, long line, many lines."""
        buf = self._buf
        if not b"HTTP/".startswith(bytes(buf[:5])):
            raise ProtocolError("the response does not start with an HTTP/1.x status line")
        pos = self._scan
        while (newline := buf.find(b"\n", pos)) >= 0:
            if newline - self._line_start > MAX_LINE:
                raise ProtocolError(f"a status or header line longer than {MAX_LINE} bytes")
            self._line_start = pos = newline + 1
            self._lines += 1
        if len(buf) - self._line_start > MAX_LINE:
            raise ProtocolError(f"a status or header line longer than {MAX_LINE} bytes")
        if self._lines > MAX_HEADERS + 1:
            raise ProtocolError(f"more than {MAX_HEADERS} header lines")
        self._scan = len(buf)

    def _start_response(self, head: bytes, out: list[Response]) -> None:
        """Act on a complete head: skip an interim one, else choose how the body is delimited."""
        parsed = parse_head(head)
        if parsed.status < 200:
            return  # an interim response (100, 103...): the final one follows
        status, reason, headers, http11 = parsed
        lengths, codings, connection = framing_fields(headers)
        if http11:
            keep_alive = not connection or not has_token(connection, "close")
        else:
            keep_alive = has_token(connection, "keep-alive")
        no_body, self._head_only = self._head_only or status in (204, 304), False
        self._head, self._body, self._trailers = (status, reason, headers, keep_alive), bytearray(), []
        if no_body:
            out.append(self._response())
        elif codings:  # RFC 9112 section 6.3
            if not http11 or [c.strip(" \t").lower() for v in codings for c in v.split(",")] != ["chunked"]:
                raise ProtocolError("a Transfer-Encoding other than chunked, or one in HTTP/1.0")
            if lengths:  # chunked wins; the message smells of smuggling: use it, then close
                self._head = (status, reason, headers, False)
            self._state = _CHUNK_SIZE_LINE
        elif lengths:
            self._remaining = content_length(lengths)
            self._state = _LENGTH
            if not self._remaining:
                out.append(self._response())
        else:
            self._head = (status, reason, headers, False)
            self._state = _UNTIL_CLOSE

    def _read_length(self, out: list[Response]) -> bool:
        if not self._take(self._remaining, out):
            return False
        out.append(self._response())
        return True

    def _take(self, needed: int, out: list[Response]) -> bool:
        """Move up to ``needed`` body bytes from the buffer; True once all ``needed`` came.

        On passing the cap (a declared length known to pass it, or bytes beyond it), the
        capped response goes to ``out`` and the parser discards the rest of the connection.
        """
        buf = self._buf
        take = min(len(buf), needed)
        room = self._max_body - len(self._body)
        if needed > room and take >= room:
            self._body += buf[:room]
            out.append(self._response(truncated=True, keep_alive=False))
            self._state = _DISCARD
            buf.clear()
            return False
        if take == len(buf) and not self._body:
            self._body = buf
            self._buf = bytearray()
        else:
            self._body += buf[:take]
            del buf[:take]
        self._remaining = needed - take
        return not self._remaining

    def _read_chunk_size(self, out: list[Response]) -> bool:
        line = self._line("chunk-size")
        if line is None:
            return False
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise ProtocolError("a malformed chunk-size line")
        self._remaining = int(match.group(1), 16)
        self._state = _CHUNK_DATA if self._remaining else _TRAILERS
        return True

    def _read_chunk_data(self, out: list[Response]) -> bool:
        if not self._take(self._remaining, out):
            return False
        self._state = _CHUNK_END
        return True

    def _read_chunk_end(self, out: list[Response]) -> bool:
        line = self._line("chunk")
        if line is None:
            return False
        if line:
            raise ProtocolError("chunk data longer than its chunk-size")
        self._state = _CHUNK_SIZE_LINE
        return True

    def _read_trailer(self, out: list[Response]) -> bool:
        line = self._line("trailer")
        if line is None:
            return False
        if line:
            self._trailers += header_lines([line.decode("latin-1")])
            if len(self._trailers) > MAX_HEADERS or b"\r" in line or b"\x00" in line:
                raise ProtocolError(f"more than {MAX_HEADERS} trailer lines, or a bare CR or NUL in one")
            return True
        out.append(self._response())
        return True

    def _read_until_close(self, out: list[Response]) -> bool:
        self._take(len(self._buf), out)  # only eof() ends this body
        return False

    def _line(self, what: str) -> bytes | None:
        """The next line (without CRLF or LF) from the buffer, or None until it is complete."""
        buf = self._buf
        newline = buf.find(b"\n", 0, MAX_LINE + 2)
        if newline < 0:
            if len(buf) > MAX_LINE + 1:
                raise ProtocolError(f"a {what} line longer than {MAX_LINE} bytes")
            return None
        line = bytes(buf[: newline - 1 if newline and buf[newline - 1] == 13 else newline])
        del buf[: newline + 1]
        return line

    def _response(self, *, truncated: bool = False, keep_alive: bool | None = None) -> Response:
        """The response under way, built from its head and body; the parser waits for the next head."""
        status, reason, headers, alive = self._head
        self._state = _HEAD
        return Response(
            status,
            reason,
            headers,
            bytes(self._body),
            alive if keep_alive is None else keep_alive,
            truncated,
            tuple(self._trailers),
        )


_STEPS: dict[int, Callable[[ResponseParser, list[Response]], bool]] = {
    _HEAD: ResponseParser._read_head,
    _LENGTH: ResponseParser._read_length,
    _CHUNK_SIZE_LINE: ResponseParser._read_chunk_size,
    _CHUNK_DATA: ResponseParser._read_chunk_data,
    _CHUNK_END: ResponseParser._read_chunk_end,
    _TRAILERS: ResponseParser._read_trailer,
    _UNTIL_CLOSE: ResponseParser._read_until_close,
}
