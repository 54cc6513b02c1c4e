"""The HPACK Huffman code (RFC 7541 Appendix B) and a decoder for it.

The code is canonical: its code words follow from the code lengths alone, given in symbol
order (0-255, then EOS = 256), as transcribed from Appendix B. Decoding walks the code tree
four bits at a time through a table built once at import.
"""

from __future__ import annotations

from .errors import DecodingError

__all__ = ["CODES", "EOS", "decode"]

EOS = 256

# Code lengths in bits for symbols 0..256, from RFC 7541 Appendix B, sixteen a row.
_LENGTHS = bytes(
    [
        *(13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28),  # 0
        *(28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28),  # 16
        *(6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6),  # 32 ' '
        *(5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10),  # 48 '0'
        *(13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7),  # 64 '@'
        *(7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6),  # 80 'P'
        *(15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5),  # 96 '`'
        *(6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28),  # 112 'p'
        *(20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23),  # 128
        *(24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24),  # 144
        *(22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23),  # 160
        *(21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23),  # 176
        *(26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25),  # 192
        *(19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27),  # 208
        *(20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23),  # 224
        *(26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26),  # 240
        30,  # 256 EOS
    ]
)


def _canonical(lengths: bytes) -> tuple[tuple[int, int], ...]:
    """``(code, length)`` per symbol: codes assigned in order of (length, symbol)."""
    code, previous, codes = 0, 0, [(0, 0)] * len(lengths)
    for symbol in sorted(range(len(lengths)), key=lambda s: (lengths[s], s)):
        code <<= lengths[symbol] - previous
        codes[symbol], previous = (code, lengths[symbol]), lengths[symbol]
        code += 1
    return tuple(codes)


#: ``CODES[symbol] == (code, bit length)`` for the 256 octets and EOS.
CODES = _canonical(_LENGTHS)


def _build_table() -> tuple[list[int], list[int], frozenset[int]]:
    """The nibble-driven decoder: (next state, emitted symbol or -1) per (state, 4 bits).

    A state is an inner node of the code tree (0 is the root). A next state of -1 means the
    bits spell EOS, which a string must never contain. The accepting states are the nodes
    reached by at most 7 one-bits from the root: valid padding (RFC 7541 section 5.2).
    """
    children: list[list[int]] = [[-1, -1]]  # inner nodes; a leaf is stored as -(symbol + 2)
    for symbol, (code, length) in enumerate(CODES):
        node = 0
        for shift in range(length - 1, -1, -1):
            bit = code >> shift & 1
            if shift == 0:
                children[node][bit] = -(symbol + 2)
            else:
                if children[node][bit] == -1:
                    children[node][bit] = len(children)
                    children.append([-1, -1])
                node = children[node][bit]
    next_state, emitted = [], []
    for state in range(len(children)):
        for nibble in range(16):
            node, symbol = state, -1
            for shift in (3, 2, 1, 0):
                child = children[node][nibble >> shift & 1]
                if child >= 0:
                    node = child
                elif child == -(EOS + 2):
                    node = -1
                    break
                else:
                    node, symbol = 0, -child - 2
            next_state.append(node)
            emitted.append(symbol)
    accepting, node = {0}, 0
    for _ in range(7):
        node = children[node][1]
        accepting.add(node)
    return next_state, emitted, frozenset(accepting)


_NEXT, _EMIT, _ACCEPTING = _build_table()


def decode(data: bytes) -> bytes:
    """The octets Huffman-coded in ``data``; :class:`~.errors.DecodingError` if not a valid coding.

    Invalid: EOS inside the data, padding longer than 7 bits, or padding that is not all ones.

    >>> decode(bytes.fromhex("a8eb10649cbf"))
    b'no-cache'
    """
    out = bytearray()
    state = 0
    nxt, emit = _NEXT, _EMIT
    for byte in data:
        index = state << 4 | byte >> 4
        state = nxt[index]
        if emit[index] >= 0:
            out.append(emit[index])
        if state < 0:
            raise DecodingError("a Huffman string holds the EOS symbol")
        index = state << 4 | byte & 15
        state = nxt[index]
        if emit[index] >= 0:
            out.append(emit[index])
        if state < 0:
            raise DecodingError("a Huffman string holds the EOS symbol")
    if state not in _ACCEPTING:
        raise DecodingError("a Huffman string ends with invalid padding")
    return bytes(out)
