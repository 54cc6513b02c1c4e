"""Shared fixtures: service accounts with RSA keys generated here, never real credentials."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_URI = "https://oauth2.googleapis.com/token"
PROJECT = "demo-project"
V1_SEND = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"


def make_private_key_pem() -> str:
    """A fresh 2048-bit RSA key, PKCS#8 PEM, as Google's key files hold it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    return make_private_key_pem()


@pytest.fixture
def service_account_info(private_key_pem: str) -> dict[str, Any]:
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": private_key_pem,
        "client_email": f"sender@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
    }


@pytest.fixture
def service_account_file(tmp_path: pathlib.Path, service_account_info: dict[str, Any]) -> pathlib.Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account_info))
    return path
