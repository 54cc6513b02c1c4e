"""pytest fixtures for the FCM emulator.

One emulator serves the whole test session; ``fcm_emulator`` resets it before each
test, so tests never see each other's queues, inboxes, records or counters.

pytest loads this plugin in every project where fcm-client is installed, so it imports
the emulator only when a test asks for one of its fixtures.

Example::

    def test_send(fcm_emulator):
        fcm_emulator.set_outcome("token-1", "unregistered")
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import FCMEmulator

__all__ = ["fcm_emulator", "fcm_emulator_server", "fcm_service_account"]


@pytest.fixture(scope="session")
def fcm_emulator_server() -> Iterator[FCMEmulator]:
    """The session's running emulator, not reset between tests (prefer ``fcm_emulator``)."""
    from .emulator import FCMEmulator

    with FCMEmulator() as emulator:
        yield emulator


@pytest.fixture
def fcm_emulator(fcm_emulator_server: FCMEmulator) -> FCMEmulator:
    """A started emulator, reset for this test."""
    fcm_emulator_server.reset()
    return fcm_emulator_server


@pytest.fixture(scope="session")
def fcm_service_account(fcm_emulator_server: FCMEmulator) -> dict[str, str]:
    """A service-account key dict for project ``demo`` of the session's emulator."""
    return fcm_emulator_server.service_account_info("demo")
