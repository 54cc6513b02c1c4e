"""A raw TCP server on 127.0.0.1 for transport-level misbehaviour HTTP servers never show.

Each connection reads one request (headers and a Content-Length body), then hands the socket
to a *script*: a function that writes whatever bytes it likes, as slowly as it likes, then
returns (the connection is closed). Scripts never sleep past the server's stop: they wait on
``server.stopping`` so a test ends as soon as it is done.

    with RawServer(answer(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n{}")) as server:
        requests.post(server.url("/fcm/send"), ...)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

Script = Callable[[socket.socket, "RawServer"], None]


def http_answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a complete HTTP/1.1 answer (Content-Length added unless given)."""
    fields = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **(headers or {}),
    }
    head = f"HTTP/1.1 {status} Status\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


def answer(data: bytes) -> Script:
    """Send ``data`` at once, then close."""

    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(data)

    return script


def keep_alive(*answers: bytes) -> Script:
    """Answer the request with ``answers[0]``, then each next request on the same connection
    with the next answer; close after the last (or when the client closes)."""

    def script(sock: socket.socket, server: RawServer) -> None:
        for index, data in enumerate(answers):
            if index:
                request = read_request(sock)
                if request is None:
                    return
                server.record(request)
            sock.sendall(data)

    return script


def hang() -> Script:
    """Accept the request and never answer."""

    def script(sock: socket.socket, server: RawServer) -> None:
        server.stopping.wait()

    return script


def trickle(data: bytes, interval: float, after: int = 0) -> Script:
    """Send the first ``after`` bytes of ``data`` at once, then one byte every ``interval`` s."""

    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(data[:after])
        for index in range(after, len(data)):
            if server.stopping.wait(interval):
                return
            sock.sendall(data[index : index + 1])
        server.stopping.wait()

    return script


class RawServer:
    """A threaded TCP server on 127.0.0.1, port 0, running one script per connection.

    :param script: what to do with each connection after its request has been read.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.stopping = threading.Event()
        #: The raw bytes of every request read, in arrival order.
        self.requests: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/fcm/send") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self._acceptor.join(5)
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        self._listener.close()

    def record(self, request: bytes) -> None:
        """Keep ``request`` in :attr:`requests` (for scripts that read more requests)."""
        with self._lock:
            self.requests.append(request)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self.connections += 1
                self._open.add(sock)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(10)
            request = read_request(sock)
            if request is None:
                return
            self.record(request)
            self.script(sock, self)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()


def read_request(sock: socket.socket) -> bytes | None:
    """One request (head and Content-Length body) from ``sock``; ``None`` if it closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
