"""Which way a fan-out's requests go: the engine, or requests' own path.

The engine (:mod:`fcmclient._http.engine`) skips requests, urllib3 and the socket module's
green-thread replacements, so it is taken only when skipping them changes nothing: no test
double or custom adapter watches requests (:mod:`~fcmclient._http.intercept`), no proxy applies
to the URL, and neither gevent nor eventlet has patched the process. Otherwise every request
goes through ``Session.request`` on the executor's threads. Both ways give the same outcomes;
the tests run the guarantees suite on each (``FCMCLIENT_ENGINE=off`` forces requests' path).
Over TLS the engine offers HTTP/2 and HTTP/1.1 (ALPN); ``FCMCLIENT_HTTP2=off`` offers HTTP/1.1 only.
"""

from __future__ import annotations

import functools
import os
import ssl
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy
from urllib3.exceptions import InsecureRequestWarning

from .adapter import Adapter
from .engine.origin import Address
from .intercept import session_is_watched
from .process import green_patched

__all__ = ["OWN_ADAPTERS", "engine_address"]

#: Adapters fcm-client may bypass: requests' own, and fcm-client's.
OWN_ADAPTERS = (HTTPAdapter, Adapter)


def _off(variable: str) -> bool:
    return os.environ.get(variable, "").lower() in ("0", "off", "no", "false")


def engine_address(session: requests.Session, url: str, options: Mapping[str, Any]) -> Address | None:
    """Where the engine sends ``url``'s requests (with ``options``' TLS settings), or ``None``
    when they must go through ``session`` (see the module documentation)."""
    if _off("FCMCLIENT_ENGINE"):
        return None
    if green_patched() or session_is_watched(session, OWN_ADAPTERS) or _customised(session):
        return None
    settings = session.merge_environment_settings(
        url, options.get("proxies") or {}, True, options.get("verify"), options.get("cert")
    )
    if select_proxy(url, settings["proxies"]):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        return None  # requests' path reports the bad URL as it always does
    try:
        http2 = https and not _off("FCMCLIENT_HTTP2")
        tls = (
            _tls_context(_hashable(settings["verify"]), _hashable(settings["cert"]), http2) if https else None
        )
    except (OSError, ssl.SSLError):
        return None  # a missing CA bundle or client certificate: requests' path reports it
    if https and settings["verify"] is False:
        warnings.warn(f"unverified HTTPS requests to {parts.hostname}", InsecureRequestWarning, stacklevel=3)
    return Address(parts.scheme, parts.hostname, port, tls, _authority(parts.hostname, port, https), http2)


def _customised(session: requests.Session) -> bool:
    """Whether the application gave ``session`` something each request must go through:
    response hooks, authentication or query parameters. (Not cookies: its jar keeps none,
    :class:`~fcmclient._http.session.NoCookies`.)"""
    hooks = any(session.hooks.get(event) for event in session.hooks)
    return bool(hooks or session.auth or session.params)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _tls_context(verify: bool | str, cert: str | tuple[str, str] | None, http2: bool) -> ssl.SSLContext:
    """The TLS context for these settings, made again when one of their files changed."""
    paths = [verify] if isinstance(verify, str) else []
    paths += [cert] if isinstance(cert, str) else list(cert or ())
    stamps = tuple(_stamp(path) for path in paths)
    return _tls_context_of(verify, cert, stamps, http2)


def _stamp(path: str) -> tuple[int, int]:
    try:
        status = os.stat(path)
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=16)
def _tls_context_of(
    verify: bool | str, cert: str | tuple[str, str] | None, stamps: tuple[tuple[int, int], ...], http2: bool
) -> ssl.SSLContext:
    """A client TLS context verifying as requests would with ``verify`` and ``cert``, offering
    HTTP/2 (if ``http2``) and HTTP/1.1."""
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        if os.path.isdir(where):
            context = ssl.create_default_context(capath=where)
        else:
            context = ssl.create_default_context(cafile=where)
    if cert is not None:
        if isinstance(cert, tuple):
            context.load_cert_chain(cert[0], cert[1])
        else:
            context.load_cert_chain(cert)
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return context


def _authority(host: str, port: int, https: bool) -> str:
    """The ``Host`` header for ``host`` and ``port``, as http.client writes it."""
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return host if port == (443 if https else 80) else f"{host}:{port}"
