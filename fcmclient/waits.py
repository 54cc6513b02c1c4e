"""How long to wait before a retry: ``Retry-After`` parsing and exponential backoff.

Both are pure: parsing takes the current time as an argument and backoff draws from a
:class:`random.Random` the caller provides, so tests pin them exactly. Nothing here sleeps.
"""

from __future__ import annotations

import email.utils
import random
import re
from datetime import timezone

__all__ = ["MAX_BACKOFF", "MAX_RETRY_AFTER", "QUOTA_WAIT", "parse_retry_after", "backoff_seconds"]

#: ``Retry-After`` values above this many seconds (one hour) are cut down to it, so a
#: broken or hostile server cannot park a task for days.
MAX_RETRY_AFTER = 3600.0

#: The longest exponential backoff, in seconds (before jitter): one hour, as for
#: ``Retry-After``. Without it, the 20th retry of a 1 s backoff would wait 12 days.
MAX_BACKOFF = MAX_RETRY_AFTER

#: Seconds to wait after an HTTP v1 ``QUOTA_EXCEEDED`` (429) that carried no ``Retry-After``:
#: Google asks for at least one minute.
QUOTA_WAIT = 60.0

_DELTA = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_MAX_EXPONENT = 32


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Read a ``Retry-After`` header as seconds to wait from ``now``.

    Accepts delta-seconds (``"120"``, and the decimal form some servers send) of any length
    and HTTP-dates in every RFC 7231 form. A date in the past gives ``0.0``; anything above
    :data:`MAX_RETRY_AFTER` is capped to it; a missing or unreadable value (a negative
    number included) gives ``None``, so the caller falls back to backoff.

    :param value: the header value, or ``None`` when absent.
    :param now: the current time as a POSIX timestamp (``time.time()``).
    :returns: seconds to wait, in ``[0, MAX_RETRY_AFTER]``, or ``None``.

    >>> parse_retry_after("30", now=0.0)
    30.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=0.0)
    60.0
    >>> parse_retry_after("soon", now=0.0) is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 850 and asctime forms carry no zone: they mean GMT
            when = when.replace(tzinfo=timezone.utc)
        try:
            seconds = when.timestamp() - now
        except (OverflowError, ValueError, OSError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_seconds(backoff_ms: int, retry: int, rng: random.Random) -> float:
    """Exponential backoff with jitter: ``backoff * 2**retry`` +/- ``backoff / 2`` milliseconds.

    The jitter is uniform, so two senders that failed together do not come back together.
    The centre stops growing at :data:`MAX_BACKOFF` (one hour, like a ``Retry-After``),
    the jitter still applies there. The result is in seconds and never negative.

    :param backoff_ms: the initial backoff in milliseconds (``FCM(backoff=...)``).
    :param retry: how many retries came before this one (0 for the first).
    :param rng: where the jitter comes from.
    :returns: seconds to wait.

    >>> 0.5 <= backoff_seconds(1000, 0, random.Random(1)) <= 1.5
    True
    """
    exponent = min(max(retry, 0), _MAX_EXPONENT)
    base = min(max(backoff_ms, 0) * (2**exponent), MAX_BACKOFF * 1000.0)
    half = max(backoff_ms, 0) / 2.0
    return float(max(base + rng.uniform(-half, half), 0.0)) / 1000.0
