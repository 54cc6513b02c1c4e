"""HTTP/1.1 servers on 127.0.0.1 (a port picked at run time) for the transport tests.

Each test module's server subclasses :class:`LoopbackServer` with a handler subclassing
:class:`QuietHandler`, and runs it inside :func:`serving`.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

WAIT = 5.0  # bound on waiting for the server's thread to end

S = TypeVar("S", bound="LoopbackServer")


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A keep-alive handler that logs nothing."""

    # Keep-alive needs HTTP/1.1 on the handler: http.server reads protocol_version from here.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1, port 0, whose handler threads never hold the exit."""

    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)


@contextlib.contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve on a thread of its own until the block ends; then stop, close and join it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
