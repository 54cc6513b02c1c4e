"""Sans-IO HTTP wire codecs: bytes in, values and bytes out, no socket, no clock, no thread.

- :mod:`.h1`: HTTP/1.1 request heads and an incremental response parser for one connection.
- :mod:`.content`: ``Content-Encoding`` decoding with a hard cap on the output.
- :mod:`.hpack` (with :mod:`.huffman`): RFC 7541 header compression, decoder and a stateless encoder.
- :mod:`.h2`: an RFC 9113 client connection state machine (frames in :mod:`.frames`).

Every error is a :class:`~.errors.WireError`, a :class:`ValueError`; none carries a header
value, since values carry secrets. The engine maps them to the library's own errors.
"""
