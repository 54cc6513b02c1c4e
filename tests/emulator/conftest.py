"""Fixtures for the emulator tests.

The plugin's fixtures are imported rather than loaded with ``pytest_plugins`` (which
pytest refuses in a non-root conftest and which would clash with an installed
``pytest11`` entry point).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fcmclient.testing import FCMEmulator
from fcmclient.testing.pytest_plugin import (
    fcm_emulator,
    fcm_emulator_server,
    fcm_service_account,
)
from tests.emulator.emu_support import fetch_token, make_assertion

__all__ = ["fcm_emulator", "fcm_emulator_server", "fcm_service_account"]


@pytest.fixture
def emu(fcm_emulator: FCMEmulator) -> FCMEmulator:
    """The shared emulator, reset for this test."""
    return fcm_emulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session, closed after the test."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def access_token(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> str:
    """A fresh access token for project ``demo``; the emulator is reset afterwards."""
    response = fetch_token(emu, make_assertion(fcm_service_account))
    assert response.status_code == 200, response.text
    emu.reset()
    return str(response.json()["access_token"])
