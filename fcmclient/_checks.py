"""Checks of the numbers callers give: counts and durations, one rule and one message each."""

from __future__ import annotations

import math

__all__ = ["positive_int", "seconds"]


def positive_int(value: object, what: str) -> int:
    """``value``, an int of at least 1 (not a bool).

    :raises ValueError: otherwise, naming ``what`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return value


def seconds(value: object, what: str, *, maximum: float = math.inf) -> float:
    """``value`` as a float number of seconds: a real number above zero, finite, at most ``maximum``.

    :raises ValueError: otherwise (a bool, a string, NaN, infinity included), naming ``what``
        and the value.

    >>> seconds(2, "send_timeout")
    2.0
    >>> seconds(float("inf"), "send_timeout")
    Traceback (most recent call last):
    ...
    ValueError: send_timeout must be a finite number of seconds, got inf
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds, got {value!r}")
    if value > maximum:
        raise ValueError(f"{what} must be at most {maximum:g} seconds, got {value!r}")
    return float(value)
