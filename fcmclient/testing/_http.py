"""A small HTTP/1.1 server on asyncio, run by a background thread with its own event loop.

It parses the request line, headers and a ``Content-Length`` or chunked body, keeps
connections alive, and hands each :class:`Request` to an async handler that answers a
:class:`Response` (or ``None`` to drop the connection without answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote

from ._messages import (
    MAX_HEAD_BYTES,
    HTTPError,
    Request,
    Response,
    accepts_gzip,
    compressed,
    parse_head,
    reason_phrase,
    render,
    wants_keep_alive,
)

__all__ = [
    "MAX_BODY_BYTES",
    "HTTPError",
    "HTTPServer",
    "Request",
    "Response",
    "accepts_gzip",
    "parse_head",
    "reason_phrase",
]

_log = logging.getLogger("fcmclient.testing")

#: What answers each request: a response, or ``None`` to drop the connection unanswered.
Handler = Callable[[Request], Awaitable["Response | None"]]

MAX_BODY_BYTES = 1024 * 1024
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise HTTPError(400, "Malformed chunk size.")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise HTTPError(413, "Request body too large.")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HTTPError(400, "Malformed chunk.")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailers are read and ignored
    return b"".join(parts)


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    _log.debug("event loop: %s", context.get("message"), exc_info=context.get("exception"))


class HTTPServer:
    """An HTTP/1.1 server on ``host:port`` served by a background event loop thread.

    Example::

        async def hello(request: Request) -> Response:
            return Response(200, b"hi")

        server = HTTPServer(hello, host="127.0.0.1", port=0)
        server.start()
        print(server.port)
        server.stop()

    :param handler: coroutine function answering each request; ``None`` drops the connection.
    :param host: the address to listen on.
    :param port: the port, 0 for any free one.
    :param ssl_context: serve TLS with this context when given.
    :param on_open: called in the loop thread for each accepted connection.
    :param on_close: called in the loop thread when a connection ends.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        on_open: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._on_open = on_open
        self._on_close = on_close
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._bound_port: int | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.WriteTransport] = {}
        self._lifecycle = threading.Lock()

    @property
    def port(self) -> int | None:
        """The bound port once started (kept after :meth:`stop`), else ``None``."""
        return self._bound_port

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None

    def start(self) -> None:
        """Bind and start serving in a background thread; returns once listening.

        :raises OSError: if the address cannot be bound.
        """
        with self._lifecycle:
            if self._thread is not None:
                return
            self._ready.clear()
            thread = threading.Thread(target=self._run, name="fcm-emulator", daemon=True)
            thread.start()
            if not self._ready.wait(_START_TIMEOUT):
                raise TimeoutError("the emulator's event loop did not start")
            if self._start_error is not None:
                thread.join(_STOP_TIMEOUT)
                raise self._start_error
            self._thread = thread

    def stop(self) -> None:
        """Close the listener and every open connection, then join the thread (idempotent)."""
        with self._lifecycle:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            if thread is None:
                return
            if loop is not None and stopping is not None:
                with contextlib.suppress(RuntimeError):  # the loop already ended
                    loop.call_soon_threadsafe(stopping.set)
            thread.join(_STOP_TIMEOUT)
            self._thread = None

    def _run(self) -> None:
        self._start_error = None
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() or logged
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
            else:
                _log.exception("the emulator's event loop failed")

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_exception)
        self._loop = loop
        self._stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._serve,
                self._host,
                self._port,
                ssl=self._ssl_context,
                limit=MAX_HEAD_BYTES,
                backlog=1024,
            )
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._bound_port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        await self._stopping.wait()
        server.close()
        tasks = list(self._connections)
        for task, transport in list(self._connections.items()):
            transport.abort()
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # always inside the connection's task
        self._connections[task] = writer.transport
        if self._on_open is not None:
            self._on_open()
        try:
            await self._serve_requests(reader, writer)
        except (OSError, asyncio.IncompleteReadError):  # includes resets and TLS errors
            pass
        finally:
            self._connections.pop(task, None)
            if self._on_close is not None:
                self._on_close()
            writer.close()

    async def _serve_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client closed the connection
            except asyncio.LimitOverrunError:
                await self._send_error(writer, HTTPError(431, "Request header too large."))
                return
            try:
                request, keep_alive = await self._read_request(reader, writer, head)
            except HTTPError as exc:
                await self._send_error(writer, exc)
                return
            except asyncio.LimitOverrunError:
                await self._send_error(writer, HTTPError(400, "Malformed chunk."))
                return
            try:
                response = await self._handler(request)
            except Exception:
                _log.exception("the emulator failed to answer %s %s", request.method, request.path)
                response = Response(500, b"The emulator failed; see its log.\n")
            if response is None:
                writer.transport.abort()
                return
            writer.write(
                render(
                    compressed(response, request.headers),
                    keep_alive=keep_alive,
                    http10=request.version == "HTTP/1.0",
                    head_only=request.method == "HEAD",
                )
            )
            if writer.transport.get_write_buffer_size():
                await writer.drain()  # only when the socket did not take it all
            if not keep_alive:
                return

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> tuple[Request, bool]:
        method, target, version, headers = parse_head(head.lstrip(b"\r\n"))
        transfer_encoding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if transfer_encoding is not None:
            if transfer_encoding.lower() != "chunked":
                raise HTTPError(501, f"Unsupported Transfer-Encoding {transfer_encoding!r}.")
            self._continue(writer, headers)
            body = await _read_chunked(reader)
        elif length_text is not None:
            if not (length_text.isascii() and length_text.isdigit()):
                raise HTTPError(400, "Malformed Content-Length.")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise HTTPError(413, "Request body too large (the limit is 1 MiB).")
            if length:
                self._continue(writer, headers)
                body = await reader.readexactly(length)
            else:
                body = b""
        elif method == "POST":
            raise HTTPError(411, "POST requests require a Content-Length.")
        else:
            body = b""
        path, _, query = target.partition("?")
        request = Request(
            method=method,
            target=target,
            path=unquote(path) if "%" in path else path,
            query=query,
            version=version,
            headers=headers,
            body=body,
            received_at=time.monotonic(),
        )
        return request, wants_keep_alive(version, headers)

    @staticmethod
    def _continue(writer: asyncio.StreamWriter, headers: Mapping[str, str]) -> None:
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    async def _send_error(writer: asyncio.StreamWriter, error: HTTPError) -> None:
        response = Response(error.status, f"{error.message}\n".encode())
        writer.write(render(response, keep_alive=False, http10=False, head_only=False))
        await writer.drain()
