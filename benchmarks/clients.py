"""One benchmark client in its own process: send N messages a few times and print what it cost.

Started by ``benchmarks/run.py`` (never by hand, though it can be): each client runs in a
process of its own, so CPU time, threads and peak memory are its own, and in the virtualenv
it needs (fcm-client 0.2.2 has the import name ``fcmclient`` too). Only the standard library
is imported at module level; each client imports its library when it starts.

It warms up, prints ``ready``, then reads commands from stdin, one per line: ``N`` sends
N messages once and prints one JSON line (seconds, process CPU seconds, peak thread count,
TCP connections the server saw opened and its peak of open ones, peak RSS so far). The
runner interleaves the clients' runs this way, so a slow minute on a shared machine hits
them all alike instead of one.

How each peer is pointed at the loopback server (none has a documented endpoint option):

* the service-account file's ``token_uri`` is the server's ``/token``, which google-auth
  (used by firebase-admin, pyfcm and fcm-client alike) honours;
* fcm-client takes ``url=`` and ``verify=CA``;
* firebase-admin: its ``_MessagingService`` builds the send URL from the class attribute
  ``FCM_URL`` when the app's messaging service is first made, so that attribute is set
  before; its sync client gets the 100-connection adapter it mounts for
  ``https://fcm.googleapis.com`` in production mounted for the loopback URL too;
* pyfcm: the class attribute ``FCM_END_POINT_BASE``;
* TLS: ``REQUESTS_CA_BUNDLE`` (requests: firebase-admin sync, google-auth, pyfcm's token)
  and ``SSL_CERT_FILE`` (httpx in firebase-admin async, aiohttp in pyfcm) name the CA that
  ``run.py`` made with trustme; the runner sets both in this process's environment.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import resource
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DATA = {"score": "3:1", "match": "final"}
TITLE = "Goal!"
BODY = "Portugal vs. Denmark"
WORKERS = 64  # the threads of the http.client floor (and of fcm-client's requests path)
FLOOR_CONNECTIONS = 256  # the physical floor's connections: fcm-client's default max_workers


def tokens(count: int) -> list[str]:
    """Distinct, realistic-length (163 characters) device tokens."""
    return [f"bench{index:09d}:" + "A" * 148 for index in range(count)]


class Count(list[str]):
    """An empty list that says it holds ``count`` tokens: for the clients that make their own
    targets (``fcmclient-each-stream``), so that a million of them are never held here."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def __len__(self) -> int:
        return self.count


#: Clients that make their targets themselves, from the count they are given.
GENERATING = frozenset({"fcmclient-each-stream"})


class Sampler:
    """Samples, while a run lasts, the process's threads and its TCP connections to the server.

    Threads come from /proc/self/status every 2 ms; connections every 10 ms, as the socket
    file descriptors of this process whose /proc/net/tcp entry has the server's port at
    the far end (a process with over 1,000 sockets, pyfcm at large N, is counted by its
    sockets alone, to keep the sampler from eating the CPU it measures).
    """

    def __init__(self, port: int) -> None:
        self.threads_peak = 0
        self.connections_peak = 0
        self._port = f":{port:04X} "
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def threads() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0

    def connections(self) -> int:
        sockets = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                sockets.add(target[8:-1])
        if len(sockets) > 1000:
            return len(sockets)
        count = 0
        for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
            with open(table, encoding="ascii") as lines:
                for line in lines:
                    fields = line.split()
                    # remote address is field 2 ("ADDR:PORT"), the inode field 9
                    if len(fields) > 9 and (fields[2][-5:] + " ") == self._port and fields[9] in sockets:
                        count += 1
        return count

    def _loop(self) -> None:
        tick = 0
        while not self._stop.wait(0.002):
            self.threads_peak = max(self.threads_peak, self.threads() - 1)  # not counting the sampler
            tick += 1
            if tick % 5 == 0:
                self.connections_peak = max(self.connections_peak, self.connections())

    def __enter__(self) -> Sampler:
        self.threads_peak = self.threads()
        self.connections_peak = self.connections()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Server:
    """The benchmark server's control port: connection counts, reset on each read."""

    def __init__(self, port: int) -> None:
        self.port = port

    def stats(self) -> dict[str, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/stats")
            return dict(json.loads(conn.getresponse().read()))
        finally:
            conn.close()


# Clients. Each factory returns send(targets) -> number of messages FCM accepted. -----------


def floor(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """Raw http.client: 64 threads, each with its own keep-alive connection, bodies spliced.

    The cheapest honest way Python can do it: the same per-message work as the others
    (encode the body, send, read and parse the answer), none of a library's.
    """
    parts = urllib.parse.urlsplit(args.v1_url)
    context = ssl.create_default_context(cafile=args.ca) if parts.scheme == "https" else None
    with open(args.service_account, encoding="utf-8") as handle:
        info = json.load(handle)
    token = google_token(info, args.ca)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"}
    common = json.dumps({"data": DATA, "notification": {"title": TITLE, "body": BODY}}, separators=(",", ":"))
    prefix, suffix = b'{"message":{"token":', b"," + common[1:].encode() + b"}"
    local = threading.local()
    pool = ThreadPoolExecutor(WORKERS)

    def connection() -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
        if conn is None:
            if context is not None:
                conn = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=10, context=context
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
            local.conn = conn
        return conn

    def send(targets: list[str]) -> int:
        positions = iter(range(len(targets)))
        names: list[str | None] = [None] * len(targets)

        def loop() -> None:
            conn = connection()
            for index in positions:  # a shared iterator: each position goes to one thread
                body = prefix + json.dumps(targets[index]).encode() + suffix
                conn.request("POST", parts.path, body, headers)
                answer = conn.getresponse()
                document = json.loads(answer.read())
                if answer.status == 200:
                    names[index] = document["name"]

        for future in [pool.submit(loop) for _ in range(min(WORKERS, len(targets)))]:
            future.result()
        return sum(name is not None for name in names)

    return send


def physical_floor(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """Raw HTTP/1.1 over asyncio streams: 256 keep-alive connections driven by one thread.

    The physical floor of one Python process: the per-message work of :func:`floor` (splice
    the body, write the request, read status, headers and body, parse the JSON), no library,
    no thread switches.
    """
    import asyncio

    parts = urllib.parse.urlsplit(args.v1_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    context = ssl.create_default_context(cafile=args.ca) if parts.scheme == "https" else None
    with open(args.service_account, encoding="utf-8") as handle:
        token = google_token(json.load(handle), args.ca)
    common = json.dumps({"data": DATA, "notification": {"title": TITLE, "body": BODY}}, separators=(",", ":"))
    prefix, suffix = b'{"message":{"token":', b"," + common[1:].encode() + b"}"
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n"
    ).encode()
    loop = asyncio.new_event_loop()
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def worker(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        positions: Any,
        targets: list[str],
        ok: list[bool],
    ) -> None:
        for index in positions:  # one shared iterator: each position goes to one connection
            body = prefix + json.dumps(targets[index]).encode() + suffix
            writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
            answer = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in answer.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            document = json.loads(await reader.readexactly(length))
            ok[index] = answer[9:12] == b"200" and "name" in document

    async def fan(targets: list[str]) -> int:
        need = min(FLOOR_CONNECTIONS, len(targets))
        while len(streams) < need:
            streams.append(await asyncio.open_connection(host, port, ssl=context))
        positions = iter(range(len(targets)))
        ok = [False] * len(targets)
        await asyncio.gather(*(worker(r, w, positions, targets, ok) for r, w in streams[:need]))
        return sum(ok)

    return lambda targets: loop.run_until_complete(fan(targets))


def google_token(info: dict[str, str], ca: str | None) -> str:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credentials.refresh(Request())
    return str(credentials.token)


def fcmclient_v1(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """fcm-client (this checkout): one send() of all targets, default max_workers (256)."""
    from fcmclient import FCM, JSONMessage

    options: dict[str, Any] = {"verify": args.ca} if args.ca else {}
    if args.client == "fcmclient-v1-threads":  # requests' path, as under a test double or a proxy
        os.environ["FCMCLIENT_ENGINE"] = "off"
        options["max_workers"] = WORKERS
    if args.client == "fcmclient-v1-h1":  # the engine with HTTP/1.1 only (over TLS: no ALPN "h2")
        os.environ["FCMCLIENT_HTTP2"] = "off"
    fcm = FCM.from_service_account(args.service_account, url=args.v1_url, **options)

    def send(targets: list[str]) -> int:
        result = fcm.send(JSONMessage(targets, DATA, message_title=TITLE, message_body=BODY))
        return len(result.success)

    return send


def personal(target: str, index: int) -> dict[str, Any]:
    """The content of one personalised message: its own data and title."""
    return {"data": {**DATA, "n": str(index)}, "message_title": f"{TITLE} #{index}", "message_body": BODY}


def fcmclient_each(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """fcm-client send_each: one message per target, each its own, in one call."""
    from fcmclient import FCM, JSONMessage

    options = {"verify": args.ca} if args.ca else {}
    fcm = FCM.from_service_account(args.service_account, url=args.v1_url, **options)

    def send(targets: list[str]) -> int:
        messages = (JSONMessage([t], **personal(t, i)) for i, t in enumerate(targets))
        return sum(len(result.success) for result in fcm.send_each(messages))

    return send


def fcmclient_subscribe(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """fcm-client subscribe_to_topic: every target subscribed to one topic, in one call (one
    request per token, through the same fan-out as a v1 send)."""
    from fcmclient import FCM

    options = {"verify": args.ca} if args.ca else {}
    fcm = FCM.from_service_account(args.service_account, url=args.v1_url, **options)

    def send(targets: list[str]) -> int:
        return len(fcm.subscribe_to_topic(targets, "bench").success)

    return send


def fcmclient_each_stream(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """fcm-client send_each_iter over a generator, results counted and dropped: the memory of
    a send to millions (the targets are generated, not taken from the list given)."""
    from fcmclient import FCM, JSONMessage

    options = {"verify": args.ca} if args.ca else {}
    fcm = FCM.from_service_account(args.service_account, url=args.v1_url, **options)

    def send(targets: list[str]) -> int:
        messages = (
            JSONMessage([f"bench{i:09d}:" + "A" * 148], **personal("", i)) for i in range(len(targets))
        )
        return sum(len(result.success) for result in fcm.send_each_iter(messages))

    return send


def legacy(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """The legacy API: one send() per 1,000 ids (fcm-client now, or 0.2.2 in its own venv)."""
    from fcmclient import FCM, JSONMessage

    options = {"verify": args.ca} if args.ca else {}
    fcm = FCM(args.api_key, url=args.legacy_url, **options)

    def send(targets: list[str]) -> int:
        delivered = 0
        for start in range(0, len(targets), 1000):
            chunk = targets[start : start + 1000]
            result = fcm.send(JSONMessage(chunk, DATA, message_title=TITLE, message_body=BODY))
            delivered += len(result.success)
        return delivered

    return send


def _firebase_app(args: argparse.Namespace) -> Any:
    import firebase_admin
    from firebase_admin import credentials, messaging

    base = args.v1_url.split("/v1/projects/")[0]
    messaging._MessagingService.FCM_URL = base + "/v1/projects/{0}/messages:send"
    app = firebase_admin.initialize_app(credentials.Certificate(args.service_account), name="bench")
    service = messaging._get_messaging_service(app)
    from firebase_admin import _http_client
    from requests.adapters import HTTPAdapter

    # What firebase-admin mounts for https://fcm.googleapis.com, mounted for our URL.
    adapter = HTTPAdapter(
        pool_connections=100, pool_maxsize=100, max_retries=_http_client.DEFAULT_RETRY_CONFIG
    )
    service._client.session.mount(base, adapter)
    return app


def _multicast(targets: list[str]) -> Any:
    from firebase_admin import messaging

    return messaging.MulticastMessage(
        tokens=targets, data=DATA, notification=messaging.Notification(title=TITLE, body=BODY)
    )


def firebase_sync(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """firebase-admin send_each_for_multicast, 500 tokens per call (its limit)."""
    from firebase_admin import messaging

    app = _firebase_app(args)

    def send(targets: list[str]) -> int:
        delivered = 0
        for start in range(0, len(targets), 500):
            batch = messaging.send_each_for_multicast(_multicast(targets[start : start + 500]), app=app)
            delivered += batch.success_count
        return delivered

    return send


def firebase_each(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """firebase-admin send_each: one message per target, each its own, 500 per call (its limit)."""
    from firebase_admin import messaging

    app = _firebase_app(args)

    def one(target: str, index: int) -> Any:
        content = personal(target, index)
        note = messaging.Notification(title=content["message_title"], body=content["message_body"])
        return messaging.Message(token=target, data=content["data"], notification=note)

    def send(targets: list[str]) -> int:
        delivered = 0
        for start in range(0, len(targets), 500):
            batch = [one(t, start + i) for i, t in enumerate(targets[start : start + 500])]
            delivered += messaging.send_each(batch, app=app).success_count
        return delivered

    return send


def firebase_async(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """firebase-admin send_each_for_multicast_async (httpx, HTTP/2 over TLS), 500 per call."""
    import asyncio

    from firebase_admin import messaging

    app = _firebase_app(args)
    loop = asyncio.new_event_loop()

    async def all_batches(targets: list[str]) -> int:
        delivered = 0
        for start in range(0, len(targets), 500):
            message = _multicast(targets[start : start + 500])
            batch = await messaging.send_each_for_multicast_async(message, app=app)
            delivered += batch.success_count
        return delivered

    def send(targets: list[str]) -> int:
        return loop.run_until_complete(all_batches(targets))

    return send


def pyfcm_async(args: argparse.Namespace) -> Callable[[list[str]], int]:
    """pyfcm async_notify_multiple_devices: all targets in one call, as its docs show."""
    from pyfcm import FCMNotification

    FCMNotification.FCM_END_POINT_BASE = args.v1_url.split("/v1/projects/")[0] + "/v1/projects"
    fcm = FCMNotification(service_account_file=args.service_account, project_id="bench")

    def send(targets: list[str]) -> int:
        params = [
            {"fcm_token": t, "notification_title": TITLE, "notification_body": BODY, "data_payload": DATA}
            for t in targets
        ]
        answers = fcm.async_notify_multiple_devices(params_list=params, timeout=120)
        return sum(isinstance(a, dict) and "name" in a for a in answers)

    return send


CLIENTS: dict[str, Callable[[argparse.Namespace], Callable[[list[str]], int]]] = {
    "floor": floor,
    "physical-floor": physical_floor,
    "fcmclient-v1": fcmclient_v1,
    "fcmclient-v1-threads": fcmclient_v1,
    "fcmclient-v1-h1": fcmclient_v1,
    "fcmclient-each": fcmclient_each,
    "fcmclient-each-stream": fcmclient_each_stream,
    "fcmclient-subscribe": fcmclient_subscribe,
    "firebase-admin-each": firebase_each,
    "fcmclient-legacy": legacy,
    "fcmclient-0.2.2-legacy": legacy,
    "firebase-admin-sync": firebase_sync,
    "firebase-admin-async": firebase_async,
    "pyfcm-async": pyfcm_async,
}


def measure(
    send: Callable[[list[str]], int], targets: list[str], server: Server, port: int, min_seconds: float
) -> dict[str, Any]:
    """Send to ``targets`` once, and again until ``min_seconds`` have passed: one run."""
    server.stats()  # reset the counters
    sends = delivered = 0
    cpu = time.process_time()  # every thread of this process, at clock_gettime resolution
    started = time.perf_counter()
    with Sampler(port) as sampler:
        while sends == 0 or time.perf_counter() - started < min_seconds:
            delivered += send(targets)
            sends += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    stats = server.stats()
    return {
        "sends": sends,
        "messages": sends * len(targets),
        "seconds": elapsed,
        "cpu": cpu,
        "threads": sampler.threads_peak,
        "connections": stats["connections"] / sends,
        "peak_open": sampler.connections_peak,
        "delivered": delivered,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("--v1-url", required=True)
    parser.add_argument("--legacy-url", required=True)
    parser.add_argument("--service-account", required=True)
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--ca", help="CA bundle (TLS runs)")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument(
        "--min-seconds", type=float, default=1.0, help="repeat a send until a run lasts this long"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # firebase-admin's "pool is full" flood
    server = Server(args.control_port)
    send = CLIENTS[args.client](args)
    if args.warmup:
        send(Count(args.warmup) if args.client in GENERATING else tokens(args.warmup))
    print("ready", flush=True)
    for command in sys.stdin:
        size = int(command)
        port = urllib.parse.urlsplit(args.v1_url).port or 443
        targets = Count(size) if args.client in GENERATING else tokens(size)
        line = measure(send, targets, server, port, args.min_seconds)
        line["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(line), flush=True)
    os._exit(0)  # skip interpreter teardown: some peers leave non-daemon threads and loops behind


if __name__ == "__main__":
    main()
