"""HTTP/1.1 parser properties: any chunking gives the same responses, h11 agrees, garbage only
ever raises ProtocolError."""

from __future__ import annotations

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcmclient._http.wire.errors import ProtocolError
from fcmclient._http.wire.h1 import Response, ResponseParser

TOKEN = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1
)
VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=20
)
RESERVED = {"content-length", "transfer-encoding", "connection"}
FIELDS = st.lists(st.tuples(TOKEN, VALUE).filter(lambda f: f[0].lower() not in RESERVED), max_size=8)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, tuple[int, tuple[tuple[str, str], ...], bytes]]:
    """One serialized response (Content-Length or chunked) and what it must parse into."""
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    fields = tuple(draw(FIELDS))
    body = draw(st.binary(max_size=300))
    head = f"HTTP/1.1 {status} R\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields)
    if draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=False) if b > a]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        return head.encode("latin-1") + b"Transfer-Encoding: chunked\r\n\r\n" + payload, (
            status,
            fields,
            body,
        )
    data = head.encode("latin-1") + b"Content-Length: %d\r\n\r\n" % len(body) + body
    return data, (status, fields, body)


def summary(response: Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    framing = ("content-length", "transfer-encoding")
    return response.status, tuple(f for f in response.headers if f[0].lower() not in framing), response.body


@given(st.lists(responses(), min_size=1, max_size=4), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_chunking_gives_the_same_responses(items: list, data: st.DataObject) -> None:
    stream = b"".join(raw for raw, _ in items)
    expected = [want for _, want in items]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    parser = ResponseParser()
    got = [
        r for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=False) for r in parser.feed(stream[a:b])
    ]
    assert [summary(r) for r in got] == expected
    assert all(r.keep_alive and not r.truncated for r in got)


def test_every_split_point_of_a_mixed_stream() -> None:
    stream = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"
        b"HTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 500 E\nTransfer-Encoding: chunked\n\n2;e=1\nde\n0\nT: 1\n\n"
        b"HTTP/1.0 200 OK\r\n\r\nuntil close"
    )
    whole = ResponseParser()
    expected = whole.feed(stream)
    expected.append(whole.eof())
    assert [r.status for r in expected if r] == [200, 204, 500, 200]
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1, 7):
            parser = ResponseParser()
            got = parser.feed(stream[:i]) + parser.feed(stream[i:j]) + parser.feed(stream[j:])
            got.append(parser.eof())
            assert got == expected, (i, j)


def h11_parse(raw: bytes) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    status, fields, body = 0, (), b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
            fields = tuple(
                (n.decode("latin-1"), v.decode("latin-1"))
                for n, v in event.headers.raw_items()
                if n.lower() not in (b"content-length", b"transfer-encoding")
            )
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return status, fields, body


@given(responses())
def test_h11_reads_the_same_response(item: tuple) -> None:
    raw, expected = item
    (ours,) = ResponseParser().feed(raw)
    theirs = h11_parse(raw)
    assert summary(ours) == expected
    assert (theirs[0], [(n.lower(), v) for n, v in theirs[1]], theirs[2]) == (
        expected[0],
        [(n.lower(), v) for n, v in expected[1]],
        expected[2],
    )


PREFIXES = st.sampled_from(
    [b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
)


@given(PREFIXES, st.binary(max_size=200), st.integers(1, 64))
@settings(max_examples=500)
def test_random_bytes_raise_nothing_but_protocol_error(prefix: bytes, noise: bytes, step: int) -> None:
    parser = ResponseParser(max_body=64)
    data = prefix + noise
    try:
        for i in range(0, len(data), step):
            for response in parser.feed(data[i : i + step]):
                assert isinstance(response, Response)
        parser.eof()
    except ProtocolError:
        pass
