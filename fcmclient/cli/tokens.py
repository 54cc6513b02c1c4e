"""Registration tokens for ``fcmclient send``, streamed from the command line and a file.

A token database export can hold millions of lines, so the file is read a line at a time and
never held whole: only a 16-byte digest per token is kept, to send each token once (about
80 bytes a token in a set, so some 80 MB per million tokens).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import BinaryIO

from .common import open_input

__all__ = ["TokenSource", "TokenFileError"]


class TokenFileError(ValueError):
    """The tokens file cannot be opened or is not UTF-8 text; the message says where."""


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TokenSource:
    """The tokens of ``--token`` options, then of ``--tokens-file`` (``-`` is ``stdin``).

    Lines are stripped of surrounding whitespace (CRLF files work), blank lines are skipped,
    a UTF-8 byte-order mark is ignored, and a token seen before is skipped and counted in
    :attr:`duplicates`. Use it as a context manager: the file is opened on entry, so an
    unreadable file is reported before anything is sent.

    :param given: tokens from the command line.
    :param path: the tokens file, ``"-"`` for ``stdin``, or ``None``.
    :param stdin: standard input, as bytes.
    """

    def __init__(self, given: Sequence[str], path: str | None, stdin: BinaryIO) -> None:
        self._given = list(given)
        self._path = path
        self._stdin = stdin
        self._handle: BinaryIO | None = None
        self._size: int | None = None
        self._consumed = 0
        self._seen: set[bytes] = set()
        #: Tokens skipped because they came before.
        self.duplicates = 0
        #: Tokens handed out so far.
        self.count = 0
        self._tokens = self._read()

    @property
    def name(self) -> str:
        """How error messages name the file."""
        return "standard input" if self._path == "-" else f"tokens file {self._path!r}"

    def __enter__(self) -> TokenSource:
        if self._path is None:
            return self
        self._handle, self._size = open_input(self._path, self._stdin, self.name, TokenFileError)
        return self  # the handle is closed by __exit__

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None and self._handle is not self._stdin:
            self._handle.close()

    def fraction(self) -> float | None:
        """How much of the input has been read, from 0 to 1, or ``None`` when unknown (a pipe)."""
        if self._path is None:
            return self.count / len(self._given) if self._given else 1.0
        if self._size is None:
            return None
        return self._consumed / self._size if self._size else 1.0

    def _fresh(self, token: str) -> bool:
        key = _digest(token)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        self.count += 1
        return True

    def __iter__(self) -> Iterator[str]:
        """The tokens not handed out yet: every iteration continues the same stream."""
        return self._tokens

    def _read(self) -> Iterator[str]:
        for raw in self._given:
            token = raw.strip()
            if token and self._fresh(token):
                yield token
        if self._handle is None:
            return
        for number, line in enumerate(self._handle, start=1):
            self._consumed += len(line)
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise TokenFileError(f"{self.name}, line {number}: not UTF-8 text") from None
            token = (text.lstrip("\ufeff") if number == 1 else text).strip()
            if token and self._fresh(token):
                yield token

    def chunks(self, size: int) -> Iterator[list[str]]:
        """The tokens in lists of at most ``size``.

        :raises TokenFileError: at a line that is not UTF-8, after the tokens read before it.
        """
        chunk: list[str] = []
        try:
            for token in self:
                chunk.append(token)
                if len(chunk) == size:
                    yield chunk
                    chunk = []
        except TokenFileError:
            if chunk:  # the tokens read before the bad line still go out, then the error
                yield chunk
            raise
        if chunk:
            yield chunk
