"""A local Firebase Cloud Messaging emulator for end-to-end tests.

Google offers no FCM emulator; :class:`FCMEmulator` is a real HTTP/1.1 server on
127.0.0.1 that speaks the legacy API, HTTP v1 and the OAuth2 token endpoint, with
scripted outcomes per target and inboxes to assert on.

Example::

    from fcmclient.testing import FCMEmulator, Outcome

    with FCMEmulator() as emu:
        emu.set_outcome("token-1", Outcome.unavailable(retry_after=1))
        ...
"""

from __future__ import annotations

from ._outcomes import Outcome
from ._records import EmulatorStats, RecordedRequest
from .emulator import FCMEmulator

__all__ = ["FCMEmulator", "Outcome", "RecordedRequest", "EmulatorStats"]
