"""What every part of the command shares: exit statuses, usage errors, and stop requests."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Iterator
from types import FrameType
from typing import BinaryIO, TypeVar

from .._args import UsageError

__all__ = [
    "open_input",
    "EXIT_AUTH",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "StopRequest",
    "UsageError",
]

_T = TypeVar("_T")

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_INTERRUPTED = 130


class StopRequest:
    """Counts SIGINT and SIGTERM: the first asks to stop once the sends in flight are
    answered, the second to abandon them."""

    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()
        self._abortable = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.event.set()
        if self._abortable and self.count >= 2:
            raise KeyboardInterrupt

    def next_or_abort(self, items: Iterator[_T]) -> _T:
        """``next(items)``; a second interrupt, even one that comes while it blocks (reading a
        pipe), raises :class:`KeyboardInterrupt` instead."""
        self._abortable = True  # first: a second interrupt from here on raises, or is seen below
        try:
            if self.count >= 2:
                raise KeyboardInterrupt
            return next(items)
        finally:
            self._abortable = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Handle the signals while the block runs (only possible in the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, self) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def open_input(path: str, stdin: BinaryIO, name: str, error: type[Exception]) -> tuple[BinaryIO, int | None]:
    """The input ``path`` names (``-``: ``stdin``), and the bytes left in it when it is a
    regular file (``None``: a pipe or a terminal, whose size is unknown).

    :raises error: the file cannot be opened (the message says ``cannot read {name}``).
    """
    if path == "-":
        handle = stdin
    else:
        try:
            handle = open(path, "rb")  # noqa: SIM115  # the caller closes it
        except OSError as exc:
            raise error(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(handle.fileno())
    except (OSError, ValueError):
        return handle, None
    return handle, max(info.st_size - handle.tell(), 0) if stat.S_ISREG(info.st_mode) else None
