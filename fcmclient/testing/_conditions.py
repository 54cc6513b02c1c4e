"""Topic names and topic conditions: FCM's condition grammar, parsed and evaluated.

A condition names topics as ``'news' in topics`` (single or double quotes), combines them
with ``&&`` and ``||``, negates with ``!`` and groups with parentheses; it may name at most
five topics. Firebase's send-message guide ("Send messages to topic conditions") says FCM
"first evaluates any conditions in parentheses, and then evaluates the expression from left
to right": ``&&`` and ``||`` have equal precedence and fold from the left, so
``A || B && C`` means ``(A || B) && C``. ``!`` applies to the operand that follows it.

Example::

    condition = parse_condition("'a' in topics && !('b' in topics)")
    assert condition.matches({"a"}) and not condition.matches({"a", "b"})
"""

from __future__ import annotations

import json
import re
from collections.abc import Set
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_CONDITION_TOPICS",
    "TOPIC_NAME",
    "Condition",
    "ConditionError",
    "condition_problem",
    "parse_condition",
]

#: What a topic name may contain (FCM's ``[a-zA-Z0-9-_.~%]+``).
TOPIC_NAME = re.compile(r"[a-zA-Z0-9\-_.~%]+")
MAX_CONDITION_TOPICS = 5
#: Parentheses and ``!`` nest at most this deep (a guard for the recursive parser).
_MAX_DEPTH = 64
_TOPIC_TERM = re.compile(r"""(['"])([^'"]*)\1\s+in\s+topics\b""")
_OPERATORS = ("&&", "||", "!", "(", ")")
_EXAMPLE = "\"'a' in topics && ('b' in topics || 'c' in topics)\""


class ConditionError(ValueError):
    """A condition FCM would refuse; the message says why."""


@dataclass(frozen=True)
class _Topic:
    name: str


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    operator: Literal["&&", "||"]
    left: _Node
    right: _Node


_Node = _Topic | _Not | _Binary


def _holds(node: _Node, subscribed: Set[str]) -> bool:
    if isinstance(node, _Topic):
        return node.name in subscribed
    if isinstance(node, _Not):
        return not _holds(node.operand, subscribed)
    if node.operator == "&&":
        return _holds(node.left, subscribed) and _holds(node.right, subscribed)
    return _holds(node.left, subscribed) or _holds(node.right, subscribed)


@dataclass(frozen=True)
class Condition:
    """A parsed condition.

    Example::

        parse_condition("'a' in topics || 'b' in topics").matches({"b"})  # True

    :param text: the condition as sent.
    :param topics: the topic names it mentions, in order (repeats included).
    """

    text: str
    topics: tuple[str, ...]
    _root: _Node

    def matches(self, subscribed: Set[str]) -> bool:
        """Whether a registration subscribed to ``subscribed`` receives the message.

        :param subscribed: the registration's topic names.
        """
        return _holds(self._root, subscribed)


def _dump(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_Token = str | _Topic  # an operator or parenthesis, or a topic term


def _tokens(text: str) -> list[tuple[int, _Token]]:
    """The ``(position, token)`` pairs of a condition."""
    tokens: list[tuple[int, _Token]] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TOPIC_TERM.match(text, position)
        if match is not None:
            tokens.append((position, _Topic(match.group(2))))
            position = match.end()
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator is None:
            raise ConditionError(
                f"Invalid condition {_dump(text)}: unexpected {_dump(text[position : position + 10])} "
                f"at character {position}; expected expressions like {_EXAMPLE}"
            )
        tokens.append((position, operator))
        position += len(operator)
    return tokens


class _Parser:
    """A recursive-descent parser over the tokens of one condition."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokens(text)
        self._index = 0

    def _error(self, expected: str) -> ConditionError:
        if self._index < len(self._tokens):
            position, item = self._tokens[self._index]
            shown = item if isinstance(item, str) else f"'{item.name}' in topics"
            found = f"{_dump(shown)} at character {position}"
        else:
            found = "the end of the condition"
        return ConditionError(
            f"Invalid condition {_dump(self._text)}: expected {expected}, found {found}; "
            f"conditions look like {_EXAMPLE}"
        )

    def _next(self) -> _Token | None:
        if self._index >= len(self._tokens):
            return None
        return self._tokens[self._index][1]

    def parse(self) -> _Node:
        root = self._expression(0)
        if self._next() is not None:
            raise self._error("&& or ||")
        return root

    def _expression(self, depth: int) -> _Node:
        node = self._operand(depth)
        while (operator := self._next()) in ("&&", "||"):
            self._index += 1
            node = _Binary("&&" if operator == "&&" else "||", node, self._operand(depth))
        return node

    def _operand(self, depth: int) -> _Node:
        if depth > _MAX_DEPTH:
            raise ConditionError(f"Invalid condition: nested more than {_MAX_DEPTH} levels deep")
        item = self._next()
        if item is None or item in ("&&", "||", ")"):
            raise self._error("'name' in topics, ! or (")
        self._index += 1
        if isinstance(item, _Topic):
            return item
        if item == "!":
            return _Not(self._operand(depth + 1))
        inner = self._expression(depth + 1)  # the item was "("
        if self._next() != ")":
            raise self._error(")")
        self._index += 1
        return inner


def _names(node: _Node) -> list[str]:
    if isinstance(node, _Topic):
        return [node.name]
    if isinstance(node, _Not):
        return _names(node.operand)
    return _names(node.left) + _names(node.right)


def parse_condition(text: str) -> Condition:
    """Parse a condition as FCM does.

    :param text: the condition, e.g. ``"'a' in topics && !('b' in topics)"``.
    :raises ConditionError: for a malformed condition, one naming more than
        :data:`MAX_CONDITION_TOPICS` topics, or an invalid topic name.
    """
    root = _Parser(text).parse()
    topics = tuple(_names(root))
    if len(topics) > MAX_CONDITION_TOPICS:
        raise ConditionError(
            f"Invalid condition: it names {len(topics)} topics, the maximum is {MAX_CONDITION_TOPICS}"
        )
    for topic in topics:
        if not TOPIC_NAME.fullmatch(topic):
            raise ConditionError(f"Invalid topic name {_dump(topic)} in condition")
    return Condition(text, topics, root)


def condition_problem(text: str) -> str | None:
    """Explain why ``text`` is not a valid condition, or return ``None``.

    :param text: the condition as sent.
    """
    try:
        parse_condition(text)
    except ConditionError as exc:
        return str(exc)
    return None
