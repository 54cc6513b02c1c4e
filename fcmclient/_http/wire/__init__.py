"""Sans-IO HTTP wire codecs: bytes in, values and bytes out, no socket, no clock, no thread.

- :mod:`.h1` (head parsing in :mod:`.h1head`): HTTP/1.1 request heads and an incremental
  response parser for one keep-alive connection.
- :mod:`.content`: ``Content-Encoding`` decoding with a hard cap on the output.
- :mod:`.hpack` (with :mod:`.huffman`): RFC 7541 header compression, a decoder and a
  stateless encoder.
- :mod:`.h2`: an RFC 9113 client connection state machine; its events in :mod:`.h2events`,
  per-stream state in :mod:`.h2state`, frame syntax in :mod:`.frames`.
- :mod:`.fields` and :mod:`.errors`: header validation and lookup, and the exceptions.

Every error raised is a :class:`~.errors.WireError`, a :class:`ValueError`; none carries a
header value, since values carry secrets. The engine maps them to the library's own errors.
"""
