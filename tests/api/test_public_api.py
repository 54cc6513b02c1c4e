"""The public surface: names, ``__all__`` and the exception hierarchy, pinned."""

from __future__ import annotations

import fcmclient
import fcmclient.api
from fcmclient import errors, messages, result
from fcmclient._protocol import legacy, v1

PACKAGE_ALL = [
    "__version__",
    "FCM_URL",
    "V1_URL",
    "FCM",
    "JSONMessage",
    "PlainTextMessage",
    "TopicMessage",
    "InstallationMessage",
    "Result",
    "TopicResult",
    "FCMError",
    "FCMAuthenticationError",
    "FCMRequestError",
    "FCMResponseError",
    "FCMUnsupportedError",
]

API_ALL = [name for name in PACKAGE_ALL if name != "__version__"]


def test_package_all_is_pinned() -> None:
    assert fcmclient.__all__ == PACKAGE_ALL


def test_api_all_is_pinned() -> None:
    assert fcmclient.api.__all__ == API_ALL


def test_every_name_in_all_is_importable_from_both_modules() -> None:
    for name in PACKAGE_ALL:
        assert hasattr(fcmclient, name), name
    for name in API_ALL:
        assert getattr(fcmclient.api, name) is getattr(fcmclient, name), name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from fcmclient import *", namespace)  # noqa: S102 - the star import is what is under test
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(PACKAGE_ALL)


def test_version_is_the_installed_distributions_and_valid_pep_440() -> None:
    import importlib.metadata

    from packaging.version import Version

    # setup.py reads the version from fcmclient/_version.py: the two must agree.
    assert fcmclient.__version__ == importlib.metadata.version("fcm-client")
    assert str(Version(fcmclient.__version__)) == fcmclient.__version__  # normalised PEP 440


def test_urls() -> None:
    assert fcmclient.FCM_URL == "https://fcm.googleapis.com/fcm/send"
    assert fcmclient.api.FCM_URL == legacy.FCM_URL == fcmclient.FCM_URL
    assert fcmclient.V1_URL == v1.V1_URL


def test_classes_are_the_implementations() -> None:
    assert fcmclient.JSONMessage is messages.JSONMessage
    assert fcmclient.PlainTextMessage is messages.PlainTextMessage
    assert fcmclient.TopicMessage is messages.TopicMessage
    assert fcmclient.Result is result.Result
    assert fcmclient.TopicResult is result.TopicResult
    assert fcmclient.FCMUnsupportedError is errors.FCMUnsupportedError
    assert fcmclient.FCMAuthenticationError is errors.FCMAuthenticationError


def test_exception_hierarchy_keeps_builtin_bases() -> None:
    assert issubclass(fcmclient.FCMError, Exception)
    leaves = (
        fcmclient.FCMAuthenticationError,
        fcmclient.FCMRequestError,
        fcmclient.FCMResponseError,
        fcmclient.FCMUnsupportedError,
    )
    for leaf in leaves:
        assert issubclass(leaf, fcmclient.FCMError), leaf
        assert issubclass(leaf, ValueError), leaf
    assert not issubclass(fcmclient.FCMError, ValueError)


def test_fcm_default_backoff_is_the_0_2_constant() -> None:
    assert fcmclient.FCM.INITIAL_BACKOFF == 1000
    with fcmclient.FCM("key") as fcm:
        assert fcm.backoff == 1000
        assert fcm.url == fcmclient.FCM_URL
        assert fcm.protocol == "legacy"


def test_package_logger_has_a_null_handler() -> None:
    import logging

    handlers = logging.getLogger("fcmclient").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)
