"""The argument parser of both command lines (``fcmclient`` and the emulator's).

A mistake is one line naming it, exit status 2, and never the value of an option: a
mistyped ``--api-key=...`` carries a key.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["Parser", "UsageError"]


class UsageError(Exception):
    """Bad input from the person at the keyboard: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors raise :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):  # name the options only
            words = message[len(prefix) :].split()
            options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
            message = prefix + (" ".join(options) or f"{len(words)} value(s)")
        raise UsageError(f"{message} (see {self.prog} --help)")
