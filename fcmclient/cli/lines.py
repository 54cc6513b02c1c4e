"""Personalised messages for ``fcmclient send --messages-file``: one JSON object per line, streamed.

Each line is a message of its own: a target (``"token"``, ``"topic"`` or ``"condition"``,
exactly one) and its own ``"title"``, ``"body"`` and ``"data"``, over the content the command
line gives every message (the line's ``data`` keys over ``--data``'s). Blank lines are
skipped. The file is read a line at a time and never held whole.

    {"token": "dXNlcjE...", "title": "Your order 1234 shipped", "data": {"order": "1234"}}
    {"topic": "team-42", "body": "Training moved to 6 pm"}
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, BinaryIO

from ..messages import JSONMessage, Message, TopicMessage
from .common import open_input

__all__ = ["FIELDS", "MessageFileError", "MessageLines"]

#: The fields a line may hold.
FIELDS = frozenset({"token", "topic", "condition", "title", "body", "data"})
_TARGETS = ("token", "topic", "condition")


class MessageFileError(ValueError):
    """A line that is not a message (or a file that cannot be read); the text says where."""


class MessageLines:
    """The messages of a messages file (``"-"``: ``stdin``), with their line numbers.

    Use it as a context manager: the file is opened on entry, so an unreadable file is
    reported before anything is sent.

    :param path: the file, or ``"-"``.
    :param stdin: standard input, as bytes.
    :param content: what the command line gives every message (:func:`message_content`).
    """

    def __init__(self, path: str, stdin: BinaryIO, content: Mapping[str, Any]) -> None:
        self._path, self._stdin, self._content = path, stdin, dict(content)
        self._handle: BinaryIO | None = None
        self._size: int | None = None
        self._consumed = 0
        #: Messages handed out so far.
        self.count = 0
        self._messages = self._read()

    @property
    def name(self) -> str:
        """How error messages name the file."""
        return "standard input" if self._path == "-" else f"messages file {self._path!r}"

    def __enter__(self) -> MessageLines:
        self._handle, self._size = open_input(self._path, self._stdin, self.name, MessageFileError)
        return self  # the handle is closed by __exit__

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None and self._handle is not self._stdin:
            self._handle.close()

    def fraction(self) -> float | None:
        """How much of the file has been read, from 0 to 1, or ``None`` when unknown (a pipe)."""
        if self._size is None:
            return None
        return self._consumed / self._size if self._size else 1.0

    def __iter__(self) -> Iterator[tuple[int, Message]]:
        """``(line number, message)`` for the lines not handed out yet (one shared stream).

        :raises MessageFileError: at a line that is not a message, after those before it.
        """
        return self._messages

    def _read(self) -> Iterator[tuple[int, Message]]:
        assert self._handle is not None, "use MessageLines as a context manager"
        for number, raw in enumerate(self._handle, start=1):
            self._consumed += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise MessageFileError(f"{self.name}, line {number}: not UTF-8 text") from None
            text = (text.lstrip("\ufeff") if number == 1 else text).strip()
            if text:
                message = self._message(number, text)
                self.count += 1
                yield number, message

    def _message(self, number: int, text: str) -> Message:
        where = f"{self.name}, line {number}"
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MessageFileError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(fields, dict):
            raise MessageFileError(f"{where}: a message is a JSON object, not {type(fields).__name__}")
        unknown = sorted(set(fields) - FIELDS)
        targets = [name for name in _TARGETS if fields.get(name) is not None]
        if unknown:
            raise MessageFileError(
                f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(FIELDS))}"
            )
        if len(targets) != 1:
            raise MessageFileError(f"{where}: give exactly one of token, topic and condition")
        content = dict(self._content)
        if fields.get("title") is not None:
            content["message_title"] = fields["title"]
        if fields.get("body") is not None:
            content["message_body"] = fields["body"]
        if fields.get("data") is not None:
            if not isinstance(fields["data"], dict):
                raise MessageFileError(f"{where}: data must be a JSON object")
            content["data"] = {**(content.get("data") or {}), **fields["data"]}
        try:
            if targets[0] == "token":
                return JSONMessage([fields["token"]], **content)
            return TopicMessage(**{targets[0]: fields[targets[0]]}, **content)
        except (TypeError, ValueError) as exc:
            raise MessageFileError(f"{where}: {exc}") from None
