"""The ``fcmclient`` command line: ``send``, ``emulator`` and ``demo`` (see docs/cli.rst)."""

from .command import main

__all__ = ["main"]
