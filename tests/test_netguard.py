"""The suite's network guard (``tests/netguard.py``, installed by the root ``conftest.py``)."""

from __future__ import annotations

import socket

import pytest

from tests.netguard import NetworkGuard


def test_the_network_guard_refuses_and_reports_what_is_not_loopback(no_network: NetworkGuard) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("fcm.googleapis.com", 443)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert no_network.take() == ["DNS lookup of 'fcm.googleapis.com'", "connect to ('192.0.2.1', 443)"]
