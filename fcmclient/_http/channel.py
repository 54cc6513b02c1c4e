"""Many requests to one URL (or below it), prepared once: what a fan-out sends through.

Each request goes the direct way (a borrowed keep-alive connection, one write, a capped
read) while nothing watches requests (:mod:`~fcmclient._http.intercept`) and no proxy is
set; otherwise through ``Session.request``. Either way within the request's total deadline,
and once the status arrived it decides. Why: ``docs/architecture.rst``.
"""

from __future__ import annotations

import http.client
import logging
import re
import ssl
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri
from urllib3 import exceptions as u3
from urllib3._collections import HTTPHeaderDict  # (public as urllib3.HTTPHeaderDict from 2.0)
from urllib3.util.wait import wait_for_read

from .deadline import DeadlineAdapter
from .intercept import connections_are_replaced, session_is_watched
from .process import forks
from .session import MAX_RESPONSE_BYTES, Reply, Timeout, post, read_capped, total_seconds, within

__all__ = ["Channel"]

log = logging.getLogger("fcmclient")

_CHUNK = 64 * 1024
_Headers = Mapping[str, str]


#: Held by each request through the session while urllib3's connection classes are replaced.
_ONE_AT_A_TIME = threading.Lock()

#: Adapters a channel may drive the pools of directly: requests' own, and fcm-client's.
_OWN_ADAPTERS = (HTTPAdapter, DeadlineAdapter)


def _direct_pool(pool: Any) -> bool:
    """Whether requests may skip ``adapter.send`` on this pool: no proxy, and the pool
    lends connections as urllib3 1.26 and 2.x do."""
    return (
        getattr(pool, "proxy", None) is None
        and callable(getattr(pool, "_get_conn", None))
        and callable(getattr(pool, "_put_conn", None))
    )


#: Headers the direct path writes itself.
_WRITTEN_HEADERS = frozenset({"host", "content-length"})
#: Methods whose empty body goes without a ``Content-Length`` (requests leaves it out).
_NO_EMPTY_LENGTH = frozenset({"GET", "HEAD"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _host_header(pool: Any) -> str:
    """The ``Host`` header http.client would send to ``pool``'s host and port."""
    host = str(pool.host)
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    default = 443 if pool.scheme == "https" else 80
    return host if pool.port in (None, default) else f"{host}:{pool.port}"


def _connect_error(exc: Exception) -> requests.RequestException:
    """The requests exception ``HTTPAdapter.send`` raises for a failure to connect."""
    if isinstance(exc, (u3.SSLError, ssl.SSLError, ssl.CertificateError)):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, u3.ConnectTimeoutError) and not isinstance(exc, u3.NewConnectionError):
        return requests.ConnectTimeout(exc)
    if isinstance(exc, TimeoutError):
        return requests.ConnectTimeout(exc)
    return requests.ConnectionError(exc)


def _exchange_error(exc: Exception) -> requests.RequestException:
    """The requests exception for a failure once connected: sending, or reading the answer."""
    if isinstance(exc, (u3.SSLError, ssl.SSLError)):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, TimeoutError):
        return requests.ReadTimeout(exc)
    return requests.ConnectionError(exc)


def _request_line(method: str, target: str) -> bytes:
    """``METHOD target HTTP/1.1``, its line end included (the target is ASCII: quoted)."""
    return f"{method} {target} HTTP/1.1\r\n".encode("ascii")


def _forked() -> requests.ConnectionError:
    return requests.ConnectionError("this process was forked from the one that made this request")


def _chunks(response: http.client.HTTPResponse, method: str) -> Iterable[bytes]:
    """The body of ``response``, in pieces, decoded as urllib3 decodes it for ``adapter.send``."""
    encoding = response.getheader("Content-Encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        # A compressed answer (a legacy request asks for gzip and deflate, as requests does):
        # urllib3 decodes it, a piece at a time (so the size cap bounds the inflated body),
        # raising its DecodeError for garbage.
        yield from _decoding(response, method).stream(_CHUNK, decode_content=True)
        return
    if response.length is not None and response.length <= MAX_RESPONSE_BYTES:
        yield response.read()  # the usual case: one read of a known, small length
        return
    while chunk := response.read(_CHUNK):
        yield chunk


def _decoding(response: http.client.HTTPResponse, method: str) -> urllib3.HTTPResponse:
    """urllib3's reader of ``response``, as ``HTTPConnection.getresponse`` makes it."""
    return urllib3.HTTPResponse(
        body=response,
        headers=HTTPHeaderDict(response.getheaders()),
        status=response.status,
        version=response.version,
        reason=response.reason,
        preload_content=False,
        decode_content=True,
        original_response=response,
        enforce_content_length=True,
        request_method=method,
    )


class Channel:
    """Requests to ``url`` (or below it) through ``session``, prepared once: each call only
    sends a body.

    :param session: the pooled session (its headers and mounted adapter are used).
    :param url: where every request goes: this URL (:meth:`post`), or one below it
        (:meth:`request`).
    :param headers: headers for every request, over the session's defaults (``None`` removes
        one of those, as in requests).
    :param timeout: seconds, or a ``(connect, read)`` pair.
    :param options: requests options: ``proxies``, ``verify``, ``cert``.
    :raises OSError: ``verify`` names a CA bundle that does not exist (as requests does).

    A channel that cannot be set up (a URL requests refuses, say) raises that
    :class:`requests.RequestException` from every :meth:`post`, as ``Session.post`` would.
    """

    __slots__ = (
        "_adapter",
        "_connect",
        "_error",
        "_head_cache",
        "_headers",
        "_host",
        "_local",
        "_made_in",
        "_options",
        "_pool",
        "_read",
        "_removed",
        "_serial",
        "_session",
        "_target",
        "_timeout",
        "_tls",
        "url",
    )

    def __init__(
        self,
        session: requests.Session,
        url: str,
        headers: Mapping[str, str | None],
        timeout: Timeout,
        options: Mapping[str, Any],
    ) -> None:
        self.url = url
        self._made_in = forks()
        self._error: requests.RequestException | None = None
        self._pool: Any = None
        self._adapter: Any = None
        self._target = url
        self._local = threading.local()
        self._tls = False
        self._host = ""
        self._head_cache: tuple[_Headers, bytes] | None = None
        self._timeout = timeout
        self._connect, self._read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        merged: CaseInsensitiveDict[str | bytes | None] = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        self._headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in merged.items()
            if value is not None
        }
        # Session defaults these headers remove: Session.request would add them back.
        self._removed: dict[str, None] = {name: None for name, value in merged.items() if value is None}
        self._session = session
        self._serial = False
        self._options = {name: options.get(name) for name in ("proxies", "verify", "cert")}
        try:
            # The URL and headers first, as Session.post prepares its request before anything
            # else: a URL it refuses raises the same InvalidURL or MissingSchema.
            template = PreparedRequest()
            template.prepare(method="POST", url=url, headers=self._headers, data=b"")
            settings = session.merge_environment_settings(
                url, options.get("proxies") or {}, True, options.get("verify"), options.get("cert")
            )
            self._adapter = session.get_adapter(url)
            self._serial = connections_are_replaced()
            if not session_is_watched(session, _OWN_ADAPTERS):
                pool, target = self._connection_pool(template, settings)
                if _direct_pool(pool):
                    self._pool, self._target = pool, target
                    self._host = _host_header(pool)
                    self._tls = pool.scheme == "https"
        except requests.RequestException as exc:
            self._error = exc

    def _connection_pool(self, template: PreparedRequest, settings: Mapping[str, Any]) -> tuple[Any, str]:
        """The urllib3 pool ``adapter.send`` would use (same TLS settings), and the request target."""
        adapter: HTTPAdapter = self._adapter
        verify, cert, proxies = settings["verify"], settings["cert"], settings["proxies"]
        try:
            if hasattr(adapter, "get_connection_with_tls_context"):  # requests >= 2.32.2
                pool = adapter.get_connection_with_tls_context(template, verify, proxies, cert)
            else:  # pragma: no cover - older requests
                pool = adapter.get_connection(self.url, proxies)
        except u3.LocationValueError as exc:
            raise requests.exceptions.InvalidURL(exc) from exc
        adapter.cert_verify(pool, self.url, verify, cert)  # type: ignore[no-untyped-call]
        return pool, adapter.request_url(template, proxies)

    @property
    def direct(self) -> bool:
        """Whether requests skip ``Session.request`` (see the module documentation)."""
        return self._pool is not None

    def headers(self, extra: _Headers) -> dict[str, str]:
        """Every header of a request: the channel's with ``extra`` over them (make once, reuse)."""
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(self._headers)
        merged.update(extra)
        return dict(merged)

    def post(self, body: bytes, headers: _Headers) -> Reply:
        """POST ``body`` to the channel's URL with exactly ``headers``: :meth:`request`."""
        return self.request("POST", self.url, body, headers)

    def request(self, method: str, url: str, body: bytes, headers: _Headers) -> Reply:
        """Send ``method`` with ``body`` and exactly ``headers`` (from :meth:`headers`) to ``url``.

        ``url`` is the channel's own, or below it (it starts with it, which has no query): the
        same host, pool, adapter and settings. Never follows redirects. Reads at most
        :data:`~fcmclient._http.session.MAX_RESPONSE_BYTES` of the answer, and only in the
        process that made the channel: a green thread (gevent, eventlet) that a fork carried
        into a child gets a :class:`requests.ConnectionError` instead, before sending or, when
        the fork came during the exchange, instead of the answer (its parent's).

        :raises requests.RequestException: on any network problem, as ``Session.request`` would.
        :raises ValueError: ``url`` is not below the channel's URL (a mistake of the caller).
        """
        if not url.startswith(self.url):
            raise ValueError("a channel sends only to its own URL and the URLs below it")
        if self._error is not None:
            raise self._error
        if forks() != self._made_in:
            raise _forked()
        with within(self._timeout):
            if self._pool is None:
                reply = self._through_session(method, url, body, headers)
            else:
                reply = self._direct(method, self._request_target(url), body, headers)
        if forks() != self._made_in:
            raise _forked()
        return reply

    def _request_target(self, url: str) -> str:
        """What the request line names for ``url``: the channel's target, and the rest of
        ``url`` quoted as requests quotes a URL it prepares."""
        if len(url) == len(self.url):
            return self._target
        return self._target + requote_uri(url[len(self.url) :])

    def _direct(self, method: str, target: str, body: bytes, headers: _Headers) -> Reply:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._pool._get_conn()  # checked by the pool, like the kept one below
            except u3.HTTPError as exc:  # the pool was closed
                raise requests.ConnectionError(exc) from exc
            self._local.conn = conn
        elif conn.sock is not None and wait_for_read(conn.sock, timeout=0.0):
            conn.close()  # closed by the server, or holding bytes no request asked for
        complete = False
        response: http.client.HTTPResponse | None = None
        try:
            if conn.sock is None:
                conn.timeout = self._connect
                try:
                    conn.connect()
                except (u3.HTTPError, OSError, ValueError) as exc:
                    raise _connect_error(exc) from exc
            if self._tls and not conn.is_verified:
                warnings.warn(
                    f"HTTPS request to {self._host} without checking its certificate (verify=False)",
                    u3.InsecureRequestWarning,
                    stacklevel=4,
                )
            if conn.sock.gettimeout() != self._read:  # a system call: only when it changed
                conn.sock.settimeout(self._read)
            head = _request_line(method, target) + self._head(headers)
            if body or method not in _NO_EMPTY_LENGTH:  # what requests writes, no more
                head += b"Content-Length: %d\r\n" % len(body)
            if forks() != self._made_in:  # forked since request() began (a green thread survives it)
                raise _forked()
            try:
                # One write: request line, headers and body (http.client would make two).
                conn.sock.sendall(b"%s\r\n%s" % (head, body))
                response = conn.response_class(conn.sock, method=method)
                response.begin()
            except (u3.HTTPError, OSError, http.client.HTTPException) as exc:
                raise _exchange_error(exc) from exc
            content, complete = read_capped(_chunks(response, method), self.url, response.status)
            # After a 1xx other than 100 (which http.client skips) the real answer is still
            # to come: the connection cannot carry another request.
            complete = complete and not response.will_close and response.status >= 200
        finally:
            if not complete:
                if response is not None:
                    response.close()  # it holds the socket open (makefile) until closed
                conn.close()  # reopened by the next request
        return Reply(response.status, CaseInsensitiveDict(response.getheaders()), content)

    def _head(self, headers: _Headers) -> bytes:
        """The ``Host`` line and ``headers``, encoded (once per headers dict)."""
        cached = self._head_cache
        if cached is not None and cached[0] is headers:
            return cached[1]
        lines = [f"Host: {self._host}"]
        for name, value in headers.items():
            if name.lower() in _WRITTEN_HEADERS:
                continue
            if not _HEADER_NAME.fullmatch(name) or _BAD_HEADER_VALUE.search(value):
                raise requests.exceptions.InvalidHeader(f"header {name!r} cannot be sent as it is")
            lines.append(f"{name}: {value}")
        try:
            head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        except UnicodeEncodeError:
            raise requests.exceptions.InvalidHeader("a header holds characters HTTP cannot carry") from None
        self._head_cache = (headers, head)
        return head

    def release(self) -> None:
        """Give the calling thread's connection back to the pool (kept alive for the next send).

        Each thread that posted calls it once it is done posting; a connection is only ever
        given back by the thread using it, so none goes back to the pool mid-request.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        idle = self._pool.pool  # urllib3's queue of kept connections (None once closed)
        if idle is not None and idle.full():
            # Sends side by side on one FCM each add their calling thread to the shared
            # helpers: the pool keeps what it can, the rest is closed without urllib3's
            # "Connection pool is full" warning.
            conn.close()
        else:
            self._pool._put_conn(conn)

    def _through_session(self, method: str, url: str, body: bytes, headers: _Headers) -> Reply:
        if self._serial:
            # One at a time while urllib3's connection classes are replaced (vcrpy puts them
            # back for every thread while it makes a connection): waiting counts against
            # this request's own deadline.
            if not _ONE_AT_A_TIME.acquire(timeout=total_seconds(self._timeout)):
                raise requests.ConnectTimeout("no turn to send within the request's deadline")
            try:
                return self._through_session_now(method, url, body, headers)
            finally:
                _ONE_AT_A_TIME.release()
        return self._through_session_now(method, url, body, headers)

    def _through_session_now(self, method: str, url: str, body: bytes, headers: _Headers) -> Reply:
        merged = {**headers, **self._removed}
        return post(self._session, url, body, merged, self._timeout, self._options, method=method)
