"""Shared fixtures: service accounts with RSA keys generated here, never real credentials."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_URI = "https://oauth2.googleapis.com/token"
PROJECT = "demo-project"
V1_SEND = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"


def make_private_key_pem() -> str:
    """A fresh 2048-bit RSA key, PKCS#8 PEM, as Google's key files hold it (registered as a secret)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    WATCH.secret(pem, "private key")
    return pem


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


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    """pytest-recording's hook: the matcher of ``tests/http/test_mocking.py``'s cassettes."""
    from tests.http.test_mocking import recording_match

    vcr.register_matcher("fcm", recording_match)


# -- figures: measured numbers shown in pytest's summary ----------------------------------------

FIGURES: list[str] = []


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a measured figure; every figure is printed at the end of the run."""

    def add(line: str) -> None:
        FIGURES.append(f"[{request.node.name}] {line}")

    return add


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fcm-client figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


# -- secrets: nothing the library logs or raises may contain one --------------------------------


class SecretWatch:
    """Every secret the suite creates, and every text fcmclient produced, checked at the end.

    Secrets are registered where they are born (the key fixtures here, ``FCM(api_key)``,
    ``FCM.from_service_account``, the emulator's keys and accounts, every access token the
    client receives). Texts are every ``fcmclient`` log record at DEBUG (with its formatted
    exception) and the message of every ``FCMError`` and ``requests.RequestException`` created
    during the run. A text leaks when it holds a registered API key or access token, any 40
    characters of a registered private key, or something shaped like a PEM private key or an
    emulator-issued key or token. Secrets shorter than :data:`MIN_SECRET` characters
    (placeholders like ``"key"``) are not scanned; tests about secrets use realistic ones.
    """

    MIN_SECRET = 12
    WINDOW = 40
    PATTERNS = (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        re.compile(r"\bemu\.[0-9a-f]{40}\b"),  # an access token issued by the emulator
        re.compile(r"\bemu-[A-Za-z0-9_-]{40}"),  # an API key made by the emulator
    )
    BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}")

    def __init__(self) -> None:
        self.needles: dict[str, str] = {}
        self.keys: list[str] = []  # base64 bodies of private keys, line breaks removed
        self.texts: dict[str, str] = {}  # text -> where it came from

    def secret(self, value: object, kind: str) -> None:
        """Register a secret: an API key, access token or PEM private key."""
        if not isinstance(value, str):
            return
        if "PRIVATE KEY-----" in value:
            self.keys.append(
                "".join(line for line in value.split() if "-----" not in line and "KEY" not in line)
            )
        elif len(value.strip()) >= self.MIN_SECRET:
            self.needles[value.strip()] = kind

    def saw(self, where: str, text: str) -> None:
        self.texts.setdefault(text, where)

    def scan(self, texts: dict[str, str]) -> list[str]:
        """``where: what`` for every text holding a secret or a secret's shape."""
        joined = "\0".join(texts)
        blob = "\0".join(self.keys)
        found: list[tuple[str, str]] = []
        for needle, kind in self.needles.items():
            if needle in joined:
                found.append((needle, kind))
        for pattern in self.PATTERNS:
            found.extend((match, pattern.pattern) for match in set(pattern.findall(joined)))
        for run in set(self.BASE64_RUN.findall(joined)):
            windows = (run[i : i + self.WINDOW] for i in range(0, len(run) - self.WINDOW + 1, 8))
            if any(window in blob for window in windows):
                found.append((run, "private key"))
        return [
            f"{where}: {what}"
            for fragment, what in found
            for text, where in texts.items()
            if fragment in text
        ]


WATCH = SecretWatch()


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        WATCH.saw(f"log {record.name} {record.levelname}", text)


def _wrap(owner: Any, name: str, after: Callable[..., None], patch: pytest.MonkeyPatch) -> None:
    """Replace ``owner.name`` by a function that calls it, then ``after(result, *args)``."""
    original = getattr(owner, name)
    is_static = isinstance(owner, type) and isinstance(inspect.getattr_static(owner, name), staticmethod)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(result, *args, **kwargs)
        return result

    patch.setattr(owner, name, staticmethod(wrapper) if is_static else wrapper)


def _private_key_of(source: Any) -> Any:
    if isinstance(source, dict):
        return source.get("private_key")
    try:
        return json.loads(pathlib.Path(source).read_text()).get("private_key")
    except (OSError, ValueError, AttributeError):
        return None


@pytest.fixture(scope="session", autouse=True)
def secret_watch() -> Iterator[SecretWatch]:
    """Capture fcmclient's DEBUG logs and error messages all run long; fail on any secret."""
    import requests

    import fcmclient._send.auth
    import fcmclient._send.tokens
    from fcmclient import FCM, FCMError
    from fcmclient.testing import FCMEmulator

    logger = logging.getLogger("fcmclient")
    handler = _Capture(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def message(exc: BaseException, *args: Any, **kwargs: Any) -> None:
        WATCH.saw(f"exception {type(exc).__name__}", " ".join(map(str, exc.args)))

    with pytest.MonkeyPatch.context() as patch:
        for cls in (FCMError, requests.RequestException):
            _wrap(cls, "__init__", lambda _, exc, *a, **k: message(exc), patch)
        _wrap(FCM, "__init__", lambda _, self, api_key=None, *a, **k: WATCH.secret(api_key, "API key"), patch)
        _wrap(
            FCM,
            "from_service_account",
            lambda _, source, *a, **k: WATCH.secret(_private_key_of(source), "private key"),
            patch,
        )
        _wrap(
            fcmclient._send.auth,
            "read_token_response",
            lambda result, *a: WATCH.secret(result[0], "access token"),
            patch,
        )
        _wrap(
            fcmclient._send.tokens.TokenSource,
            "get",
            lambda token, *a: WATCH.secret(token.value, "access token"),
            patch,
        )
        _wrap(FCMEmulator, "__init__", lambda _, self, *a, **k: WATCH.secret(self.api_key, "API key"), patch)
        _wrap(
            FCMEmulator,
            "service_account_info",
            lambda info, *a, **k: WATCH.secret(info["private_key"], "private key"),
            patch,
        )
        yield WATCH
    logger.removeHandler(handler)
    logger.setLevel(level)
    leaks = WATCH.scan(WATCH.texts)
    assert not leaks, f"secrets leaked into logs or exception messages: {sorted(set(leaks))}"
