"""HTTPS with a caller-made SSL context and a client that verifies the certificate."""

from __future__ import annotations

import ssl
from http.client import HTTPSConnection
from pathlib import Path

import google.auth.transport.requests
import google.oauth2.service_account
import pytest
import requests

from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import FCM_SCOPE, TIMEOUT, post_legacy, self_signed_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_https_with_verified_certificate(certificate: tuple[Path, Path]) -> None:
    cert_path, _ = certificate
    with FCMEmulator(ssl_context=_server_context(certificate)) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        assert emu.token_uri.startswith("https://")
        with requests.Session() as session:
            session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
            session.verify = str(cert_path)
            assert post_legacy(session, emu, {"to": "t"}).json()["success"] == 1
            assert post_legacy(session, emu, {"to": "t"}).status_code == 200
        assert emu.stats.connections_opened == 1  # keep-alive over TLS
        assert len(emu.inbox("t")) == 2


def test_google_auth_over_https(certificate: tuple[Path, Path]) -> None:
    cert_path, _ = certificate
    with FCMEmulator(ssl_context=_server_context(certificate)) as emu:
        info = emu.service_account_info()
        credentials = google.oauth2.service_account.Credentials.from_service_account_info(
            info, scopes=[FCM_SCOPE]
        )
        with requests.Session() as session:
            session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
            session.verify = str(cert_path)
            credentials.refresh(google.auth.transport.requests.Request(session))
            response = session.post(
                emu.v1_url(),
                json={"message": {"token": "t"}},
                headers={"Authorization": f"Bearer {credentials.token}"},
                timeout=TIMEOUT,
            )
        assert response.status_code == 200


def test_client_without_the_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    with FCMEmulator(ssl_context=_server_context(certificate)) as emu:
        conn = HTTPSConnection(emu.host, emu.port, timeout=TIMEOUT, context=ssl.create_default_context())
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                conn.request("POST", "/fcm/send", b"{}")
        finally:
            conn.close()
        # the failed handshake does not disturb the server
        verified = ssl.create_default_context(cafile=str(certificate[0]))
        conn = HTTPSConnection(emu.host, emu.port, timeout=TIMEOUT, context=verified)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().status == 404
        finally:
            conn.close()
