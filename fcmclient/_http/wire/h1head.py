"""Parsing the head of an HTTP/1.1 response (RFC 9112 sections 4 and 5), with its limits."""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import ProtocolError
from .fields import Fields

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE",
    "Head",
    "content_length",
    "framing_fields",
    "header_lines",
    "parse_head",
]

#: Longest status line, header line, chunk-size line or trailer line accepted (bytes).
MAX_LINE = 64 * 1024
#: Most header lines (and, separately, trailer lines) accepted in one response.
MAX_HEADERS = 100


class Head(NamedTuple):
    """A parsed status line and header section."""

    status: int
    reason: str
    headers: Fields
    http11: bool  # HTTP/1.1 or a later 1.x; False for HTTP/1.0


_STATUS = re.compile(r"HTTP/1\.([0-9]) ([1-9][0-9]{2})(?: (.*))?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\n]*)$", re.MULTILINE)
_TRAILING_SPACE = re.compile(r"[ \t]$", re.MULTILINE)
_DIGITS = re.compile(r"[0-9]{1,18}")


def _header_section(section: str) -> list[tuple[str, str]]:
    """The fields of the lines after the status line (LF-separated, CR already removed)."""
    if not section:
        return []
    fields: list[tuple[str, str]] = _FIELD.findall(section)
    if len(fields) == section.count("\n") + 1 <= MAX_HEADERS and not _TRAILING_SPACE.search(section):
        return fields  # every line is one well-formed field with nothing to strip
    return header_lines(section.split("\n"))  # folded lines, spaces to strip, or an error to name


def header_lines(lines: list[str]) -> list[tuple[str, str]]:
    """Parse header (or trailer) lines, unfolding obs-fold continuations into one space."""
    if len(lines) > MAX_HEADERS:
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not fields:
                raise ProtocolError("a folded header line with no header before it")
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise ProtocolError("a malformed header line")
        fields.append((name, value.strip(" \t")))
    return fields


def content_length(values: list[str]) -> int:
    """The one length in (possibly repeated or listed) Content-Length values (RFC 9110 8.6)."""
    if len(values) == 1 and _DIGITS.fullmatch(values[0]):
        return int(values[0])
    found = {item.strip(" \t") for value in values for item in value.split(",")}
    if len(found) != 1:
        raise ProtocolError("conflicting Content-Length values")
    text = found.pop()
    if not _DIGITS.fullmatch(text):
        raise ProtocolError("a Content-Length that is not a number of at most 18 digits")
    return int(text)


def parse_head(head: bytes) -> Head:
    """The status line and headers of ``head`` (without its final blank line).

    CRLF or bare LF end lines (as http.client tolerates); obs-fold lines are unfolded.
    Raises :class:`~.errors.ProtocolError` for a malformed status line or header line, a bare
    CR or NUL, a line over :data:`MAX_LINE` or more than :data:`MAX_HEADERS` lines, and for
    101 (we never ask to switch protocols).
    """
    text = head.decode("latin-1").replace("\r\n", "\n")
    if "\r" in text or "\x00" in text:
        raise ProtocolError("a bare CR or a NUL in the response head")
    if len(head) > MAX_LINE and max(map(len, text.split("\n"))) > MAX_LINE:
        raise ProtocolError(f"a status or header line longer than {MAX_LINE} bytes")
    first, _, section = text.partition("\n")
    status_line = _STATUS.fullmatch(first)
    if status_line is None:
        raise ProtocolError("a malformed status line")
    status = int(status_line.group(2))
    if status == 101:
        raise ProtocolError("101 Switching Protocols, though no upgrade was asked for")
    return Head(
        status, status_line.group(3) or "", tuple(_header_section(section)), status_line.group(1) != "0"
    )


def framing_fields(headers: Fields) -> tuple[list[str], list[str], list[str]]:
    """The values of Content-Length, Transfer-Encoding and Connection, in that order."""
    lengths: list[str] = []
    codings: list[str] = []
    connection: list[str] = []
    for name, value in headers:
        if len(name) not in (10, 14, 17):  # the lengths of the three names
            continue
        key = name.lower()
        if key == "content-length":
            lengths.append(value)
        elif key == "transfer-encoding":
            codings.append(value)
        elif key == "connection":
            connection.append(value)
    return lengths, codings, connection
