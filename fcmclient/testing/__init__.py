"""A local Firebase Cloud Messaging emulator for end-to-end tests.

Google offers no FCM emulator; :class:`FCMEmulator` is a real HTTP/1.1 server on
127.0.0.1 that speaks the legacy API, HTTP v1 and the OAuth2 token endpoint, with
scripted outcomes per target and inboxes to assert on.

The names below are imported on first use, so loading the pytest plugin (which pytest
does in every project that has fcm-client installed) costs nothing and cannot fail.

Example::

    from fcmclient.testing import FCMEmulator, Answer

    with FCMEmulator() as emu:
        emu.set_outcome("token-1", Answer.unavailable(retry_after=1))
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._answers import Answer
    from ._records import EmulatorStats, RecordedRequest
    from .emulator import FCMEmulator

__all__ = ["FCMEmulator", "Answer", "RecordedRequest", "EmulatorStats"]

_HOMES = {
    "FCMEmulator": ".emulator",
    "Answer": "._answers",
    "RecordedRequest": "._records",
    "EmulatorStats": "._records",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
