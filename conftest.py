"""Fixtures for everything pytest collects here (tests, docs examples, doctests).

The network guard: nothing but the loopback, for every test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.netguard import NetworkGuard

GUARD = NetworkGuard()


@pytest.fixture(scope="session", autouse=True)
def _network_guard() -> Iterator[NetworkGuard]:
    with GUARD.installed():
        yield GUARD


@pytest.fixture(autouse=True)
def no_network(_network_guard: NetworkGuard) -> Iterator[NetworkGuard]:
    """Fail the test if it tried to look up or reach anything beyond the loopback."""
    _network_guard.take()
    yield _network_guard
    attempts = _network_guard.take()
    if attempts:
        pytest.fail(f"the test tried to reach the network: {sorted(set(attempts))}")
